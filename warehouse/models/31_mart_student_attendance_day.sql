-- mart_student_attendance_day: one row per student per day with finished lessons (status 2).
-- key: user_id, lesson_date
-- incremental: day

CREATE TABLE mart_student_attendance_day AS
SELECT
    a.user_id,
    any_value(s.display_name) AS student_name,
    a.lesson_date,
    count(*) AS lessons,
    count(*) FILTER (WHERE a.attended) AS attended,
    count(*) FILTER (WHERE NOT a.attended) AS absent,
    count(*) FILTER (WHERE a.is_late) AS late,
    count(*) FILTER (WHERE a.is_late_5min) AS late_5min,
    count(*) FILTER (WHERE a.is_early_leaver) AS early_leave,
    CAST(sum(a.listen_minutes) AS BIGINT) AS listen_minutes,
    count(*) FILTER (WHERE a.attended)::DOUBLE / count(*) AS attendance_rate
FROM fct_attendance AS a
LEFT JOIN dim_student AS s USING (user_id)
WHERE a.lesson_status = 2
GROUP BY a.user_id, a.lesson_date
ORDER BY a.user_id, a.lesson_date;

COMMENT ON TABLE mart_student_attendance_day IS 'Per student per day: finished lessons (status 2) the student was enrolled in, attended, absent, late, early leaves. One grain: sum any column freely.';
COMMENT ON COLUMN mart_student_attendance_day.user_id IS 'Student user id.';
COMMENT ON COLUMN mart_student_attendance_day.student_name IS 'Name from the roster, else 学员 <user_id> (dim_student.display_name).';
COMMENT ON COLUMN mart_student_attendance_day.lesson_date IS 'The day (Beijing calendar).';
COMMENT ON COLUMN mart_student_attendance_day.lessons IS 'Finished lessons the student was enrolled in.';
COMMENT ON COLUMN mart_student_attendance_day.attended IS 'Of those, lessons attended (listen_minutes > 0).';
COMMENT ON COLUMN mart_student_attendance_day.absent IS 'lessons - attended.';
COMMENT ON COLUMN mart_student_attendance_day.late IS 'Lessons attended late (late_minutes > 0).';
COMMENT ON COLUMN mart_student_attendance_day.late_5min IS 'Lessons attended 5 or more minutes late.';
COMMENT ON COLUMN mart_student_attendance_day.early_leave IS 'Lessons attended and left early (leave_minutes > 0).';
COMMENT ON COLUMN mart_student_attendance_day.listen_minutes IS 'Total listen minutes.';
COMMENT ON COLUMN mart_student_attendance_day.attendance_rate IS 'attended / lessons (0..1).';
