-- fct_teacher_inout: teacher attendance per lesson (API 34).
-- key: lesson_id
-- incremental: day
-- mirrors: teacher_inout

CREATE TABLE fct_teacher_inout AS
SELECT
    t.lesson_id,
    t.lesson_date,
    t.teacher_id,
    l.teacher_name,
    l.status AS lesson_status,
    t.actual_start,
    t.actual_end,
    t.listen_minutes,
    t.inout_times,
    t.late_minutes,
    t.leave_minutes,
    t.late_minutes > 0 AS is_late_start,
    CASE WHEN l.status = 2 THEN t.late_minutes = 0 END AS punctual
FROM stg_teacher_inout AS t
LEFT JOIN dim_lesson AS l USING (lesson_id)
QUALIFY row_number() OVER (PARTITION BY t.lesson_id ORDER BY t.lesson_date DESC, t.teacher_id) = 1
ORDER BY t.lesson_id;

COMMENT ON TABLE fct_teacher_inout IS 'Teacher attendance (API 34): one row per lesson.';
COMMENT ON COLUMN fct_teacher_inout.lesson_id IS 'Lesson id (key).';
COMMENT ON COLUMN fct_teacher_inout.lesson_date IS 'Lesson date.';
COMMENT ON COLUMN fct_teacher_inout.teacher_id IS 'Teacher user id.';
COMMENT ON COLUMN fct_teacher_inout.teacher_name IS 'Teacher name on the lesson (API 19).';
COMMENT ON COLUMN fct_teacher_inout.lesson_status IS 'Lesson status (0 not started, 1 in class, 2 finished, 3 expired).';
COMMENT ON COLUMN fct_teacher_inout.actual_start IS 'When the teacher clicked start class.';
COMMENT ON COLUMN fct_teacher_inout.actual_end IS 'Class end time reported for the teacher.';
COMMENT ON COLUMN fct_teacher_inout.listen_minutes IS 'Teacher''s total class minutes (API 34 listen_time, read as minutes).';
COMMENT ON COLUMN fct_teacher_inout.inout_times IS 'Teacher entries/exits.';
COMMENT ON COLUMN fct_teacher_inout.late_minutes IS 'Minutes the teacher was late (API 34 u_late).';
COMMENT ON COLUMN fct_teacher_inout.leave_minutes IS 'Minutes the teacher left early (API 34 u_leave).';
COMMENT ON COLUMN fct_teacher_inout.is_late_start IS 'Late start: late_minutes > 0.';
COMMENT ON COLUMN fct_teacher_inout.punctual IS 'Teacher punctual: late_minutes = 0, for finished lessons (status 2) only; NULL otherwise (expired = not held).';
