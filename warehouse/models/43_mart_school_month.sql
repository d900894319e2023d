-- mart_school_month: the whole school per calendar month.
-- key: month_start
-- incremental: month

CREATE TABLE mart_school_month AS
WITH les AS (
    SELECT
        month_start,
        count(*) AS lessons,
        count(*) FILTER (WHERE status = 2) AS finished,
        count(*) FILTER (WHERE status = 3) AS expired,
        count(teacher_punctual) AS held_with_teacher_data,
        count(*) FILTER (WHERE teacher_punctual) AS teacher_punctual
    FROM mart_lesson_attendance
    GROUP BY month_start
),
att AS (
    SELECT
        month_start,
        count(*) AS enrolled,
        count(DISTINCT user_id) AS students,
        count(*) FILTER (WHERE attended) AS attended,
        count(*) FILTER (WHERE is_late) AS late,
        count(*) FILTER (WHERE is_early_leaver) AS early_leavers,
        avg(CAST(listen_share AS DECIMAL(38, 18))) FILTER (WHERE attended) AS avg_listen_share
    FROM fct_attendance
    WHERE lesson_status = 2
    GROUP BY month_start
),
aw AS (SELECT d.month_start, sum(stars) AS stars FROM fct_awards JOIN dim_date AS d ON d.date = lesson_date GROUP BY ALL),
ev AS (
    SELECT d.month_start, sum(event_count) AS handups
    FROM fct_key_event_counts JOIN dim_date AS d ON d.date = lesson_date
    WHERE event_type = 'handup' GROUP BY ALL
),
hr AS (SELECT d.month_start, count(*) AS help_requests FROM fct_help_requests JOIN dim_date AS d ON d.date = lesson_date GROUP BY ALL),
periods AS (
    SELECT month_start FROM les UNION SELECT month_start FROM att UNION SELECT month_start FROM aw
    UNION SELECT month_start FROM ev UNION SELECT month_start FROM hr
)
SELECT
    p.month_start,
    strftime(p.month_start, '%Y-%m') AS month_label,
    coalesce(les.lessons, 0) AS lessons,
    coalesce(les.finished, 0) AS finished,
    coalesce(les.expired, 0) AS expired,
    coalesce(att.enrolled, 0) AS students_enrolled,
    coalesce(att.students, 0) AS distinct_students,
    coalesce(att.attended, 0) AS students_attended,
    att.attended::DOUBLE / nullif(att.enrolled, 0) AS attendance_rate,
    coalesce(att.late, 0) AS students_late,
    att.late::DOUBLE / nullif(att.attended, 0) AS late_rate,
    coalesce(att.early_leavers, 0) AS early_leavers,
    att.early_leavers::DOUBLE / nullif(att.attended, 0) AS early_leave_rate,
    att.avg_listen_share,
    les.teacher_punctual::DOUBLE / nullif(les.held_with_teacher_data, 0) AS teacher_punctuality_rate,
    CAST(coalesce(aw.stars, 0) AS BIGINT) AS stars,
    CAST(coalesce(ev.handups, 0) AS BIGINT) AS handups,
    coalesce(hr.help_requests, 0) AS help_requests
FROM periods AS p
LEFT JOIN les USING (month_start)
LEFT JOIN att USING (month_start)
LEFT JOIN aw USING (month_start)
LEFT JOIN ev USING (month_start)
LEFT JOIN hr USING (month_start)
ORDER BY p.month_start;

COMMENT ON TABLE mart_school_month IS 'The whole school per calendar month: lessons by status and student/teacher attendance over finished lessons (the same definitions as mart_daily_overview; distinct_students counts each student once per month).';
COMMENT ON COLUMN mart_school_month.month_start IS 'First day of the month (key).';
COMMENT ON COLUMN mart_school_month.month_label IS 'Month as text, e.g. 2026-11.';
COMMENT ON COLUMN mart_school_month.lessons IS 'Lessons scheduled in the period, any status.';
COMMENT ON COLUMN mart_school_month.finished IS 'Lessons with status 2 (held).';
COMMENT ON COLUMN mart_school_month.expired IS 'Lessons with status 3 (not held).';
COMMENT ON COLUMN mart_school_month.students_enrolled IS 'Enrolled student-lessons of finished lessons.';
COMMENT ON COLUMN mart_school_month.distinct_students IS 'Distinct students enrolled in a finished lesson of the period.';
COMMENT ON COLUMN mart_school_month.students_attended IS 'Student-lessons attended (listen_minutes > 0).';
COMMENT ON COLUMN mart_school_month.attendance_rate IS 'students_attended / students_enrolled.';
COMMENT ON COLUMN mart_school_month.students_late IS 'Student-lessons attended late.';
COMMENT ON COLUMN mart_school_month.late_rate IS 'students_late / students_attended.';
COMMENT ON COLUMN mart_school_month.early_leavers IS 'Student-lessons attended and left early.';
COMMENT ON COLUMN mart_school_month.early_leave_rate IS 'early_leavers / students_attended.';
COMMENT ON COLUMN mart_school_month.avg_listen_share IS 'Mean listen share over attendees.';
COMMENT ON COLUMN mart_school_month.teacher_punctuality_rate IS 'Punctual finished lessons / finished lessons with teacher data.';
COMMENT ON COLUMN mart_school_month.stars IS 'Stars awarded (API 25).';
COMMENT ON COLUMN mart_school_month.handups IS 'Hand-ups (API 27 handup).';
COMMENT ON COLUMN mart_school_month.help_requests IS 'Help requests (API 16).';
