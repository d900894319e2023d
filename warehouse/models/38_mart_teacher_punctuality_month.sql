-- mart_teacher_punctuality_month: one row per teacher per calendar month with lessons.
-- key: teacher_id, month_start
-- incremental: month

CREATE TABLE mart_teacher_punctuality_month AS
SELECT
    l.teacher_id,
    any_value(dt.teacher_name) AS teacher_name,
    l.month_start,
    strftime(l.month_start, '%Y-%m') AS month_label,
    count(*) AS lessons,
    count(*) FILTER (WHERE l.status = 2) AS lessons_held,
    count(t.late_minutes) FILTER (WHERE l.status = 2) AS lessons_held_with_data,
    count(*) FILTER (WHERE l.status = 2 AND t.late_minutes > 0) AS late_starts,
    count(*) FILTER (WHERE l.status = 2 AND t.late_minutes >= 5) AS late_starts_5min,
    avg(t.late_minutes) FILTER (WHERE l.status = 2) AS avg_late_minutes,
    count(*) FILTER (WHERE l.status = 2 AND t.late_minutes = 0)::DOUBLE
        / nullif(count(t.late_minutes) FILTER (WHERE l.status = 2), 0) AS punctuality_rate,
    count(*) FILTER (WHERE l.status = 3) AS expired_lessons
FROM dim_lesson AS l
LEFT JOIN fct_teacher_inout AS t USING (lesson_id)
LEFT JOIN dim_teacher AS dt ON dt.teacher_id = l.teacher_id
WHERE l.teacher_id IS NOT NULL
GROUP BY l.teacher_id, l.month_start
ORDER BY l.teacher_id, l.month_start;

COMMENT ON TABLE mart_teacher_punctuality_month IS 'Per teacher per calendar month: lessons held (status 2), late starts, punctuality, expired (not held) lessons.';
COMMENT ON COLUMN mart_teacher_punctuality_month.teacher_id IS 'Teacher id.';
COMMENT ON COLUMN mart_teacher_punctuality_month.teacher_name IS 'Teacher name (dim_teacher).';
COMMENT ON COLUMN mart_teacher_punctuality_month.month_start IS 'First day of the calendar month.';
COMMENT ON COLUMN mart_teacher_punctuality_month.month_label IS 'Month as text, e.g. 2026-11.';
COMMENT ON COLUMN mart_teacher_punctuality_month.lessons IS 'Lessons of the teacher in the period, any status.';
COMMENT ON COLUMN mart_teacher_punctuality_month.lessons_held IS 'Finished lessons (status 2).';
COMMENT ON COLUMN mart_teacher_punctuality_month.lessons_held_with_data IS 'Finished lessons with a teacher attendance row (the punctuality denominator).';
COMMENT ON COLUMN mart_teacher_punctuality_month.late_starts IS 'Finished lessons with teacher late_minutes > 0.';
COMMENT ON COLUMN mart_teacher_punctuality_month.late_starts_5min IS 'Finished lessons with teacher late_minutes >= 5.';
COMMENT ON COLUMN mart_teacher_punctuality_month.avg_late_minutes IS 'Mean teacher late_minutes over finished lessons with data (punctual lessons count as 0).';
COMMENT ON COLUMN mart_teacher_punctuality_month.punctuality_rate IS '(finished lessons with late_minutes = 0) / lessons_held_with_data.';
COMMENT ON COLUMN mart_teacher_punctuality_month.expired_lessons IS 'Lessons with status 3 (expired, not held).';
