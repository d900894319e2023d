-- mart_student_attendance_week: one row per student per ISO week (Monday to Sunday) with finished lessons (status 2).
-- key: user_id, week_start
-- incremental: week

CREATE TABLE mart_student_attendance_week AS
SELECT
    a.user_id,
    any_value(s.display_name) AS student_name,
    a.week_start,
    strftime(a.week_start, '%G-W%V') AS iso_week_label,
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
GROUP BY a.user_id, a.week_start
ORDER BY a.user_id, a.week_start;

COMMENT ON TABLE mart_student_attendance_week IS 'Per student per ISO week (Monday to Sunday): finished lessons (status 2) the student was enrolled in, attended, absent, late, early leaves. One grain: sum any column freely.';
COMMENT ON COLUMN mart_student_attendance_week.user_id IS 'Student user id.';
COMMENT ON COLUMN mart_student_attendance_week.student_name IS 'Name from the roster, else 学员 <user_id> (dim_student.display_name).';
COMMENT ON COLUMN mart_student_attendance_week.week_start IS 'Monday of the ISO week.';
COMMENT ON COLUMN mart_student_attendance_week.iso_week_label IS 'ISO week as text, e.g. 2026-W48.';
COMMENT ON COLUMN mart_student_attendance_week.lessons IS 'Finished lessons the student was enrolled in.';
COMMENT ON COLUMN mart_student_attendance_week.attended IS 'Of those, lessons attended (listen_minutes > 0).';
COMMENT ON COLUMN mart_student_attendance_week.absent IS 'lessons - attended.';
COMMENT ON COLUMN mart_student_attendance_week.late IS 'Lessons attended late (late_minutes > 0).';
COMMENT ON COLUMN mart_student_attendance_week.late_5min IS 'Lessons attended 5 or more minutes late.';
COMMENT ON COLUMN mart_student_attendance_week.early_leave IS 'Lessons attended and left early (leave_minutes > 0).';
COMMENT ON COLUMN mart_student_attendance_week.listen_minutes IS 'Total listen minutes.';
COMMENT ON COLUMN mart_student_attendance_week.attendance_rate IS 'attended / lessons (0..1).';
