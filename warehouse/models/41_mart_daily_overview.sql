-- mart_daily_overview: one row per lesson_date.
-- key: lesson_date
-- incremental: day

CREATE TABLE mart_daily_overview AS
WITH les AS (
    SELECT
        lesson_date,
        count(*) AS lessons,
        count(*) FILTER (WHERE status = 2) AS finished,
        count(*) FILTER (WHERE status = 3) AS expired,
        count(*) FILTER (WHERE status = 0) AS not_started,
        count(*) FILTER (WHERE status = 1) AS in_class,
        count(teacher_punctual) AS held_with_teacher_data,
        count(*) FILTER (WHERE teacher_punctual) AS teacher_punctual
    FROM mart_lesson_attendance
    GROUP BY lesson_date
),
att AS (
    SELECT
        lesson_date,
        count(*) AS enrolled,
        count(DISTINCT user_id) AS students,
        count(*) FILTER (WHERE attended) AS attended,
        count(*) FILTER (WHERE is_late) AS late,
        count(*) FILTER (WHERE is_early_leaver) AS early_leavers,
        avg(CAST(listen_share AS DECIMAL(38, 18))) FILTER (WHERE attended) AS avg_listen_share
    FROM fct_attendance
    WHERE lesson_status = 2
    GROUP BY lesson_date
),
aw AS (SELECT lesson_date, sum(stars) AS stars FROM fct_awards GROUP BY lesson_date),
ev AS (
    SELECT lesson_date, sum(event_count) AS handups
    FROM fct_key_event_counts WHERE event_type = 'handup' GROUP BY lesson_date
),
hr AS (SELECT lesson_date, count(*) AS help_requests FROM fct_help_requests GROUP BY lesson_date),
days AS (
    SELECT lesson_date FROM les UNION SELECT lesson_date FROM att UNION SELECT lesson_date FROM aw
    UNION SELECT lesson_date FROM ev UNION SELECT lesson_date FROM hr
)
SELECT
    days.lesson_date,
    coalesce(les.lessons, 0) AS lessons,
    coalesce(les.finished, 0) AS finished,
    coalesce(les.expired, 0) AS expired,
    coalesce(les.not_started, 0) AS not_started,
    coalesce(les.in_class, 0) AS in_class,
    coalesce(att.enrolled, 0) AS students_enrolled,
    coalesce(att.students, 0) AS distinct_students,
    coalesce(att.attended, 0) AS students_attended,
    att.attended::DOUBLE / nullif(att.enrolled, 0) AS attendance_rate,
    coalesce(att.late, 0) AS students_late,
    att.late::DOUBLE / nullif(att.attended, 0) AS late_rate,
    coalesce(att.early_leavers, 0) AS early_leavers,
    att.early_leavers::DOUBLE / nullif(att.attended, 0) AS early_leave_rate,
    att.avg_listen_share,
    coalesce(les.held_with_teacher_data, 0) AS lessons_with_teacher_data,
    les.teacher_punctual::DOUBLE / nullif(les.held_with_teacher_data, 0) AS teacher_punctuality_rate,
    CAST(coalesce(aw.stars, 0) AS BIGINT) AS stars,
    CAST(coalesce(ev.handups, 0) AS BIGINT) AS handups,
    coalesce(hr.help_requests, 0) AS help_requests
FROM days
LEFT JOIN les USING (lesson_date)
LEFT JOIN att USING (lesson_date)
LEFT JOIN aw USING (lesson_date)
LEFT JOIN ev USING (lesson_date)
LEFT JOIN hr USING (lesson_date)
ORDER BY days.lesson_date;

COMMENT ON TABLE mart_daily_overview IS 'One row per lesson_date: lessons by status and student/teacher attendance over finished lessons.';
COMMENT ON COLUMN mart_daily_overview.lesson_date IS 'Day (key).';
COMMENT ON COLUMN mart_daily_overview.lessons IS 'Lessons scheduled that day, any status.';
COMMENT ON COLUMN mart_daily_overview.finished IS 'Lessons with status 2 (finished).';
COMMENT ON COLUMN mart_daily_overview.expired IS 'Lessons with status 3 (expired, not held).';
COMMENT ON COLUMN mart_daily_overview.not_started IS 'Lessons with status 0.';
COMMENT ON COLUMN mart_daily_overview.in_class IS 'Lessons with status 1 at extraction time.';
COMMENT ON COLUMN mart_daily_overview.students_enrolled IS 'Student-lesson enrolments in finished lessons (a student in 3 lessons counts 3).';
COMMENT ON COLUMN mart_daily_overview.distinct_students IS 'Distinct students enrolled in finished lessons.';
COMMENT ON COLUMN mart_daily_overview.students_attended IS 'Enrolments with listen_minutes > 0, finished lessons.';
COMMENT ON COLUMN mart_daily_overview.attendance_rate IS 'students_attended / students_enrolled.';
COMMENT ON COLUMN mart_daily_overview.students_late IS 'Attended enrolments with late_minutes > 0.';
COMMENT ON COLUMN mart_daily_overview.late_rate IS 'students_late / students_attended.';
COMMENT ON COLUMN mart_daily_overview.early_leavers IS 'Attended enrolments with leave_minutes > 0.';
COMMENT ON COLUMN mart_daily_overview.early_leave_rate IS 'early_leavers / students_attended.';
COMMENT ON COLUMN mart_daily_overview.avg_listen_share IS 'Mean listen_share over attended enrolments of finished lessons.';
COMMENT ON COLUMN mart_daily_overview.lessons_with_teacher_data IS 'Finished lessons with teacher attendance (punctuality denominator).';
COMMENT ON COLUMN mart_daily_overview.teacher_punctuality_rate IS 'Finished lessons whose teacher had late_minutes = 0 / lessons_with_teacher_data.';
COMMENT ON COLUMN mart_daily_overview.stars IS 'Stars awarded that day (API 25), all lessons.';
COMMENT ON COLUMN mart_daily_overview.handups IS 'Hand-ups that day (API 27), all lessons.';
COMMENT ON COLUMN mart_daily_overview.help_requests IS 'Help requests whose extraction day is that day (API 16).';
