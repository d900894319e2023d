-- dim_student: one row per student seen in the attendance (API 23) or listed in the school's roster,
-- with the roster's name, student number, class and grade where the roster has the student.
-- key: user_id
-- incremental: full
-- watch: display_name in fct_attendance

CREATE TABLE dim_student AS
WITH seen AS (
    SELECT
        user_id,
        count(*) AS lessons_enrolled,
        count(DISTINCT class_id) AS classes,
        min(lesson_date) AS first_lesson_date,
        max(lesson_date) AS last_lesson_date
    FROM fct_attendance
    GROUP BY user_id
),
ro AS (
    SELECT * FROM stg_roster_students
    QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY name) = 1
)
SELECT
    coalesce(seen.user_id, ro.user_id) AS user_id,
    ro.name AS student_name,
    coalesce(ro.name, '学员 ' || CAST(coalesce(seen.user_id, ro.user_id) AS VARCHAR)) AS display_name,
    ro.student_number,
    ro.class_name AS roster_class,
    ro.grade,
    ro.user_id IS NOT NULL AS in_roster,
    coalesce(seen.lessons_enrolled, 0) AS lessons_enrolled,
    coalesce(seen.classes, 0) AS classes,
    seen.first_lesson_date,
    seen.last_lesson_date
FROM seen
FULL OUTER JOIN ro USING (user_id)
ORDER BY user_id;

COMMENT ON TABLE dim_student IS 'One row per student: every user id in the attendance (API 23) plus every student of the school''s roster resolved to a user id (API 20); names from the roster.';
COMMENT ON COLUMN dim_student.user_id IS 'Platform user id (key).';
COMMENT ON COLUMN dim_student.student_name IS 'Name from the roster (姓名); NULL when the student is not in the roster (no reporting API returns names).';
COMMENT ON COLUMN dim_student.display_name IS 'student_name, or 学员 <user_id> when the roster does not have the student: what reports show.';
COMMENT ON COLUMN dim_student.student_number IS 'Student number from the roster (学号).';
COMMENT ON COLUMN dim_student.roster_class IS 'Class as the roster writes it (班级); the platform''s classes are in dim_classroom.';
COMMENT ON COLUMN dim_student.grade IS 'Grade from the roster (年级).';
COMMENT ON COLUMN dim_student.in_roster IS 'The roster lists this student (its mobile resolved to this user id).';
COMMENT ON COLUMN dim_student.lessons_enrolled IS 'Lessons the student is enrolled in (API 23 rows), any status.';
COMMENT ON COLUMN dim_student.classes IS 'Distinct platform classes of those lessons.';
COMMENT ON COLUMN dim_student.first_lesson_date IS 'Earliest lesson date; NULL for roster students without lessons in the lake.';
COMMENT ON COLUMN dim_student.last_lesson_date IS 'Latest lesson date.';
