-- mart_student_attendance: per student per day and per calendar month, finished lessons only.
-- key: user_id, period, period_start

CREATE TABLE mart_student_attendance AS
WITH d AS (
    SELECT
        user_id,
        lesson_date AS period_start,
        count(*) AS lessons,
        count(*) FILTER (WHERE attended) AS attended,
        count(*) FILTER (WHERE is_late) AS late,
        count(*) FILTER (WHERE is_late_5min) AS late_5min,
        count(*) FILTER (WHERE is_early_leaver) AS early_leave,
        sum(listen_minutes) AS listen_minutes
    FROM fct_attendance
    WHERE lesson_status = 2
    GROUP BY user_id, lesson_date
),
m AS (
    SELECT
        user_id,
        CAST(date_trunc('month', period_start) AS DATE) AS period_start,
        sum(lessons) AS lessons,
        sum(attended) AS attended,
        sum(late) AS late,
        sum(late_5min) AS late_5min,
        sum(early_leave) AS early_leave,
        sum(listen_minutes) AS listen_minutes
    FROM d
    GROUP BY ALL
),
u AS (
    SELECT 'day' AS period, * FROM d
    UNION ALL
    SELECT 'month' AS period, * FROM m
)
SELECT
    user_id,
    period,
    period_start,
    CAST(lessons AS BIGINT) AS lessons,
    CAST(attended AS BIGINT) AS attended,
    CAST(lessons - attended AS BIGINT) AS absent,
    CAST(late AS BIGINT) AS late,
    CAST(late_5min AS BIGINT) AS late_5min,
    CAST(early_leave AS BIGINT) AS early_leave,
    CAST(listen_minutes AS BIGINT) AS listen_minutes,
    attended::DOUBLE / lessons AS attendance_rate
FROM u
ORDER BY user_id, period, period_start;

COMMENT ON TABLE mart_student_attendance IS 'Per student per period (day or calendar month): finished lessons (status 2) enrolled, attended, absent, late, early leaves.';
COMMENT ON COLUMN mart_student_attendance.user_id IS 'Student user id.';
COMMENT ON COLUMN mart_student_attendance.period IS 'day or month.';
COMMENT ON COLUMN mart_student_attendance.period_start IS 'The day, or the first day of the month.';
COMMENT ON COLUMN mart_student_attendance.lessons IS 'Finished lessons the student was enrolled in.';
COMMENT ON COLUMN mart_student_attendance.attended IS 'Of those, lessons attended (listen_minutes > 0).';
COMMENT ON COLUMN mart_student_attendance.absent IS 'lessons - attended.';
COMMENT ON COLUMN mart_student_attendance.late IS 'Lessons attended late (late_minutes > 0).';
COMMENT ON COLUMN mart_student_attendance.late_5min IS 'Lessons attended 5 or more minutes late.';
COMMENT ON COLUMN mart_student_attendance.early_leave IS 'Lessons attended and left early (leave_minutes > 0).';
COMMENT ON COLUMN mart_student_attendance.listen_minutes IS 'Total listen minutes.';
COMMENT ON COLUMN mart_student_attendance.attendance_rate IS 'attended / lessons.';
