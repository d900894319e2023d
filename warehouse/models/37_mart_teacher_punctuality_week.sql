-- mart_teacher_punctuality_week: one row per teacher per ISO week (Monday to Sunday) with lessons.
-- key: teacher_id, week_start
-- incremental: week

CREATE TABLE mart_teacher_punctuality_week AS
SELECT
    l.teacher_id,
    any_value(dt.teacher_name) AS teacher_name,
    l.week_start,
    strftime(l.week_start, '%G-W%V') AS iso_week_label,
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
GROUP BY l.teacher_id, l.week_start
ORDER BY l.teacher_id, l.week_start;

COMMENT ON TABLE mart_teacher_punctuality_week IS 'Per teacher per ISO week (Monday to Sunday): lessons held (status 2), late starts, punctuality, expired (not held) lessons.';
COMMENT ON COLUMN mart_teacher_punctuality_week.teacher_id IS 'Teacher id.';
COMMENT ON COLUMN mart_teacher_punctuality_week.teacher_name IS 'Teacher name (dim_teacher).';
COMMENT ON COLUMN mart_teacher_punctuality_week.week_start IS 'Monday of the ISO week.';
COMMENT ON COLUMN mart_teacher_punctuality_week.iso_week_label IS 'ISO week as text, e.g. 2026-W48.';
COMMENT ON COLUMN mart_teacher_punctuality_week.lessons IS 'Lessons of the teacher in the period, any status.';
COMMENT ON COLUMN mart_teacher_punctuality_week.lessons_held IS 'Finished lessons (status 2).';
COMMENT ON COLUMN mart_teacher_punctuality_week.lessons_held_with_data IS 'Finished lessons with a teacher attendance row (the punctuality denominator).';
COMMENT ON COLUMN mart_teacher_punctuality_week.late_starts IS 'Finished lessons with teacher late_minutes > 0.';
COMMENT ON COLUMN mart_teacher_punctuality_week.late_starts_5min IS 'Finished lessons with teacher late_minutes >= 5.';
COMMENT ON COLUMN mart_teacher_punctuality_week.avg_late_minutes IS 'Mean teacher late_minutes over finished lessons with data (punctual lessons count as 0).';
COMMENT ON COLUMN mart_teacher_punctuality_week.punctuality_rate IS '(finished lessons with late_minutes = 0) / lessons_held_with_data.';
COMMENT ON COLUMN mart_teacher_punctuality_week.expired_lessons IS 'Lessons with status 3 (expired, not held).';
