-- fct_attendance: one row per enrolled student per lesson (API 23).
-- key: lesson_id, user_id
-- incremental: day

CREATE TABLE fct_attendance AS
SELECT
    a.lesson_id,
    a.lesson_date,
    a.user_id,
    l.class_id,
    l.week_start,
    l.month_start,
    l.term,
    l.status AS lesson_status,
    a.listen_minutes,
    a.inout_times,
    a.late_minutes,
    a.leave_minutes,
    a.listen_minutes > 0 AS attended,
    a.listen_minutes > 0 AND a.late_minutes > 0 AS is_late,
    a.listen_minutes > 0 AND a.late_minutes >= 5 AS is_late_5min,
    a.listen_minutes > 0 AND a.leave_minutes > 0 AS is_early_leaver,
    CASE WHEN l.scheduled_minutes > 0
         THEN least(a.listen_minutes::DOUBLE / l.scheduled_minutes, 1.0) END AS listen_share
FROM stg_attendance AS a
LEFT JOIN dim_lesson AS l USING (lesson_id)
ORDER BY a.lesson_id, a.user_id;

COMMENT ON TABLE fct_attendance IS 'Student attendance (API 23): one row per enrolled student per lesson; absent students have zeros.';
COMMENT ON COLUMN fct_attendance.lesson_id IS 'Lesson id.';
COMMENT ON COLUMN fct_attendance.lesson_date IS 'Lesson date (day of the scheduled start, Beijing calendar).';
COMMENT ON COLUMN fct_attendance.user_id IS 'Student user id.';
COMMENT ON COLUMN fct_attendance.class_id IS 'Class of the lesson (dim_lesson.class_id).';
COMMENT ON COLUMN fct_attendance.week_start IS 'Monday of the lesson''s ISO week.';
COMMENT ON COLUMN fct_attendance.month_start IS 'First day of the lesson''s month.';
COMMENT ON COLUMN fct_attendance.term IS 'Term of the lesson date, e.g. 2026秋.';
COMMENT ON COLUMN fct_attendance.lesson_status IS 'Status of the lesson (0 not started, 1 in class, 2 finished, 3 expired); NULL if the lesson is missing from dim_lesson. Rates use status 2 only.';
COMMENT ON COLUMN fct_attendance.listen_minutes IS 'Minutes in the classroom (API 23 listen_time).';
COMMENT ON COLUMN fct_attendance.inout_times IS 'Number of entries/exits (API 23 inout_times).';
COMMENT ON COLUMN fct_attendance.late_minutes IS 'Minutes late (API 23 u_late).';
COMMENT ON COLUMN fct_attendance.leave_minutes IS 'Minutes left early (API 23 u_leave).';
COMMENT ON COLUMN fct_attendance.attended IS 'Attended: listen_minutes > 0.';
COMMENT ON COLUMN fct_attendance.is_late IS 'Late: attended and late_minutes > 0.';
COMMENT ON COLUMN fct_attendance.is_late_5min IS 'Late by 5 minutes or more: attended and late_minutes >= 5.';
COMMENT ON COLUMN fct_attendance.is_early_leaver IS 'Early leaver: attended and leave_minutes > 0.';
COMMENT ON COLUMN fct_attendance.listen_share IS 'min(listen_minutes / dim_lesson.scheduled_minutes, 1) in 0..1; NULL if the lesson or its schedule is unknown.';
