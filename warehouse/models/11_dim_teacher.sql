-- dim_teacher: one row per teacher id seen in dim_lesson.
-- key: teacher_id

CREATE TABLE dim_teacher AS
SELECT
    teacher_id,
    first(teacher_name ORDER BY lesson_date DESC, lesson_id DESC) FILTER (WHERE teacher_name IS NOT NULL) AS teacher_name,
    count(*) AS lessons,
    count(*) FILTER (WHERE status = 2) AS lessons_held,
    min(lesson_date) AS first_lesson_date,
    max(lesson_date) AS last_lesson_date
FROM dim_lesson
WHERE teacher_id IS NOT NULL
GROUP BY teacher_id
ORDER BY teacher_id;

COMMENT ON TABLE dim_teacher IS 'One row per teacher id found in dim_lesson.';
COMMENT ON COLUMN dim_teacher.teacher_id IS 'Teacher user id (key).';
COMMENT ON COLUMN dim_teacher.teacher_name IS 'Name on the teacher''s most recent lesson (latest lesson_date, then highest lesson_id).';
COMMENT ON COLUMN dim_teacher.lessons IS 'Lessons of this teacher in dim_lesson, any status.';
COMMENT ON COLUMN dim_teacher.lessons_held IS 'Lessons with status 2 (finished).';
COMMENT ON COLUMN dim_teacher.first_lesson_date IS 'Earliest lesson_date.';
COMMENT ON COLUMN dim_teacher.last_lesson_date IS 'Latest lesson_date.';
