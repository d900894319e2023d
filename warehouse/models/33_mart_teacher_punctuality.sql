-- mart_teacher_punctuality: per teacher.
-- key: teacher_id

CREATE TABLE mart_teacher_punctuality AS
SELECT
    l.teacher_id,
    any_value(dt.teacher_name) AS teacher_name,
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
    count(*) FILTER (WHERE l.status = 3) AS expired_lessons
FROM dim_lesson AS l
LEFT JOIN fct_teacher_inout AS t USING (lesson_id)
LEFT JOIN dim_teacher AS dt ON dt.teacher_id = l.teacher_id
WHERE l.teacher_id IS NOT NULL
GROUP BY l.teacher_id
ORDER BY l.teacher_id;

COMMENT ON TABLE mart_teacher_punctuality IS 'Per teacher: lessons held (status 2), late starts, punctuality, expired (not held) lessons.';
COMMENT ON COLUMN mart_teacher_punctuality.teacher_id IS 'Teacher id (key).';
COMMENT ON COLUMN mart_teacher_punctuality.teacher_name IS 'Teacher name (dim_teacher).';
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
