-- mart_student_attendance_month: one row per student per calendar month with finished lessons (status 2).
-- key: user_id, month_start
-- incremental: month

CREATE TABLE mart_student_attendance_month AS
SELECT
    a.user_id,
    any_value(s.display_name) AS student_name,
    a.month_start,
    strftime(a.month_start, '%Y-%m') AS month_label,
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
GROUP BY a.user_id, a.month_start
ORDER BY a.user_id, a.month_start;

COMMENT ON TABLE mart_student_attendance_month IS 'Per student per calendar month: finished lessons (status 2) the student was enrolled in, attended, absent, late, early leaves. One grain: sum any column freely.';
COMMENT ON COLUMN mart_student_attendance_month.user_id IS 'Student user id.';
COMMENT ON COLUMN mart_student_attendance_month.student_name IS 'Name from the roster, else 学员 <user_id> (dim_student.display_name).';
COMMENT ON COLUMN mart_student_attendance_month.month_start IS 'First day of the calendar month.';
COMMENT ON COLUMN mart_student_attendance_month.month_label IS 'Month as text, e.g. 2026-11.';
COMMENT ON COLUMN mart_student_attendance_month.lessons IS 'Finished lessons the student was enrolled in.';
COMMENT ON COLUMN mart_student_attendance_month.attended IS 'Of those, lessons attended (listen_minutes > 0).';
COMMENT ON COLUMN mart_student_attendance_month.absent IS 'lessons - attended.';
COMMENT ON COLUMN mart_student_attendance_month.late IS 'Lessons attended late (late_minutes > 0).';
COMMENT ON COLUMN mart_student_attendance_month.late_5min IS 'Lessons attended 5 or more minutes late.';
COMMENT ON COLUMN mart_student_attendance_month.early_leave IS 'Lessons attended and left early (leave_minutes > 0).';
COMMENT ON COLUMN mart_student_attendance_month.listen_minutes IS 'Total listen minutes.';
COMMENT ON COLUMN mart_student_attendance_month.attendance_rate IS 'attended / lessons (0..1).';
