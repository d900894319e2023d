-- mart_teacher_punctuality: per teacher over the whole data window, and over its last 14 days
-- (period_start..period_end and recent_start..period_end are columns of every row).
-- key: teacher_id
-- incremental: full

CREATE TABLE mart_teacher_punctuality AS
WITH w AS (
    SELECT min(lesson_date) AS period_start, max(lesson_date) AS period_end,
           CAST(max(lesson_date) - INTERVAL 13 DAY AS DATE) AS recent_start
    FROM dim_lesson
)
SELECT
    l.teacher_id,
    any_value(dt.teacher_name) AS teacher_name,
    any_value(w.period_start) AS period_start,
    any_value(w.period_end) AS period_end,
    any_value(w.recent_start) AS recent_start,
    count(*) AS lessons,
    count(*) FILTER (WHERE l.status = 2) AS lessons_held,
    count(t.late_minutes) FILTER (WHERE l.status = 2) AS lessons_held_with_data,
    count(*) FILTER (WHERE l.status = 2 AND t.late_minutes > 0) AS late_starts,
    count(*) FILTER (WHERE l.status = 2 AND t.late_minutes >= 5) AS late_starts_5min,
    avg(t.late_minutes) FILTER (WHERE l.status = 2) AS avg_late_minutes,
    avg(t.late_minutes) FILTER (WHERE l.status = 2 AND t.late_minutes > 0) AS avg_late_minutes_when_late,
    max(t.late_minutes) FILTER (WHERE l.status = 2) AS max_late_minutes,
    count(*) FILTER (WHERE l.status = 2 AND t.late_minutes = 0)::DOUBLE
        / nullif(count(t.late_minutes) FILTER (WHERE l.status = 2), 0) AS punctuality_rate,
    count(*) FILTER (WHERE l.status = 3) AS expired_lessons,
    count(*) FILTER (WHERE l.status = 2 AND l.lesson_date >= w.recent_start) AS lessons_held_14d,
    count(*) FILTER (WHERE l.status = 2 AND l.lesson_date >= w.recent_start AND t.late_minutes > 0) AS late_starts_14d,
    count(*) FILTER (WHERE l.status = 2 AND l.lesson_date >= w.recent_start AND t.late_minutes = 0)::DOUBLE
        / nullif(count(t.late_minutes) FILTER (WHERE l.status = 2 AND l.lesson_date >= w.recent_start), 0)
        AS punctuality_rate_14d
FROM dim_lesson AS l
CROSS JOIN w
LEFT JOIN fct_teacher_inout AS t USING (lesson_id)
LEFT JOIN dim_teacher AS dt ON dt.teacher_id = l.teacher_id
WHERE l.teacher_id IS NOT NULL
GROUP BY l.teacher_id
ORDER BY l.teacher_id;

COMMENT ON TABLE mart_teacher_punctuality IS 'Per teacher over the whole window (period_start..period_end) and its last 14 days: lessons held (status 2), late starts, punctuality, expired (not held) lessons. Per week/month: mart_teacher_punctuality_week/_month.';
COMMENT ON COLUMN mart_teacher_punctuality.teacher_id IS 'Teacher id (key).';
COMMENT ON COLUMN mart_teacher_punctuality.teacher_name IS 'Teacher name (dim_teacher).';
COMMENT ON COLUMN mart_teacher_punctuality.period_start IS 'First lesson date in the warehouse: the counts cover period_start..period_end.';
COMMENT ON COLUMN mart_teacher_punctuality.period_end IS 'Last lesson date in the warehouse.';
COMMENT ON COLUMN mart_teacher_punctuality.recent_start IS 'period_end - 13 days: the *_14d columns cover recent_start..period_end (14 days).';
COMMENT ON COLUMN mart_teacher_punctuality.lessons IS 'Lessons of the teacher, any status.';
COMMENT ON COLUMN mart_teacher_punctuality.lessons_held IS 'Finished lessons (status 2).';
COMMENT ON COLUMN mart_teacher_punctuality.lessons_held_with_data IS 'Finished lessons with a teacher attendance row (the punctuality denominator).';
COMMENT ON COLUMN mart_teacher_punctuality.late_starts IS 'Finished lessons with teacher late_minutes > 0.';
COMMENT ON COLUMN mart_teacher_punctuality.late_starts_5min IS 'Finished lessons with teacher late_minutes >= 5.';
COMMENT ON COLUMN mart_teacher_punctuality.avg_late_minutes IS 'Mean teacher late_minutes over finished lessons with data (punctual lessons count as 0).';
COMMENT ON COLUMN mart_teacher_punctuality.avg_late_minutes_when_late IS 'Mean late_minutes over late starts only.';
COMMENT ON COLUMN mart_teacher_punctuality.max_late_minutes IS 'Largest late_minutes over finished lessons.';
COMMENT ON COLUMN mart_teacher_punctuality.punctuality_rate IS '(finished lessons with late_minutes = 0) / lessons_held_with_data.';
COMMENT ON COLUMN mart_teacher_punctuality.expired_lessons IS 'Lessons with status 3 (expired, not held).';
COMMENT ON COLUMN mart_teacher_punctuality.lessons_held_14d IS 'Finished lessons in the last 14 days (recent_start..period_end).';
COMMENT ON COLUMN mart_teacher_punctuality.late_starts_14d IS 'Late starts (late_minutes > 0) in the last 14 days.';
COMMENT ON COLUMN mart_teacher_punctuality.punctuality_rate_14d IS 'Punctual / finished lessons with data, in the last 14 days; NULL without any.';
