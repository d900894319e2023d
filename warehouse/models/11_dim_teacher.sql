-- dim_teacher: one row per teacher id seen in dim_lesson or listed in the roster; names from the
-- roster first, then from the lessons (API 19 teacher_name).
-- key: teacher_id
-- incremental: full
-- watch: teacher_name in dim_lesson

CREATE TABLE dim_teacher AS
WITH seen AS (
    SELECT
        teacher_id,
        first(teacher_name ORDER BY lesson_date DESC, lesson_id DESC) FILTER (WHERE teacher_name IS NOT NULL) AS api_name,
        count(*) AS lessons,
        count(*) FILTER (WHERE status = 2) AS lessons_held,
        min(lesson_date) AS first_lesson_date,
        max(lesson_date) AS last_lesson_date
    FROM dim_lesson
    WHERE teacher_id IS NOT NULL
    GROUP BY teacher_id
),
ro AS (
    SELECT user_id AS teacher_id, name, subject FROM stg_roster_teachers
    QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY name) = 1
)
SELECT
    coalesce(seen.teacher_id, ro.teacher_id) AS teacher_id,
    coalesce(ro.name, seen.api_name) AS teacher_name,
    CASE WHEN ro.name IS NOT NULL THEN 'roster' WHEN seen.api_name IS NOT NULL THEN 'lessons' END AS name_source,
    ro.subject,
    ro.teacher_id IS NOT NULL AS in_roster,
    coalesce(seen.lessons, 0) AS lessons,
    coalesce(seen.lessons_held, 0) AS lessons_held,
    seen.first_lesson_date,
    seen.last_lesson_date
FROM seen
FULL OUTER JOIN ro USING (teacher_id)
ORDER BY teacher_id;

COMMENT ON TABLE dim_teacher IS 'One row per teacher: every teacher id of dim_lesson plus every teacher of the school''s roster resolved to a user id (API 20).';
COMMENT ON COLUMN dim_teacher.teacher_id IS 'Teacher user id (key).';
COMMENT ON COLUMN dim_teacher.teacher_name IS 'Name from the roster; else the name on the teacher''s most recent lesson (latest lesson_date, then highest lesson_id).';
COMMENT ON COLUMN dim_teacher.name_source IS 'Where teacher_name came from: roster or lessons (API 19).';
COMMENT ON COLUMN dim_teacher.subject IS 'Subject from the roster (科目); NULL without a roster.';
COMMENT ON COLUMN dim_teacher.in_roster IS 'The roster lists this teacher.';
COMMENT ON COLUMN dim_teacher.lessons IS 'Lessons of this teacher in dim_lesson, any status.';
COMMENT ON COLUMN dim_teacher.lessons_held IS 'Lessons with status 2 (finished).';
COMMENT ON COLUMN dim_teacher.first_lesson_date IS 'Earliest lesson_date; NULL for roster teachers without lessons in the lake.';
COMMENT ON COLUMN dim_teacher.last_lesson_date IS 'Latest lesson_date.';
