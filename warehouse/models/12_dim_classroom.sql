-- dim_classroom: one row per class id seen in lessons or in the course-progress snapshot,
-- with subject, grade and term from the roster's courses when it has them.
-- key: class_id
-- incremental: full
-- watch: class_name, subject, grade, term in dim_lesson

CREATE TABLE dim_classroom AS
WITH seen AS (
    SELECT
        class_id,
        first(class_name ORDER BY lesson_date DESC, lesson_id DESC) FILTER (WHERE class_name IS NOT NULL) AS class_name,
        count(*) AS lessons_seen,
        count(*) FILTER (WHERE status = 2) AS lessons_finished_seen,
        count(*) FILTER (WHERE status = 3) AS lessons_expired_seen,
        min(lesson_date) AS first_lesson_date,
        max(lesson_date) AS last_lesson_date
    FROM dim_lesson
    WHERE class_id IS NOT NULL
    GROUP BY class_id
),
rc AS (
    -- the roster's courses: matched by class id, else by the exact class name
    SELECT * FROM stg_roster_courses
),
cp AS (
    SELECT * FROM stg_course_progress
    QUALIFY row_number() OVER (PARTITION BY class_id ORDER BY total DESC, finished DESC) = 1
)
SELECT
    coalesce(seen.class_id, cp.class_id) AS class_id,
    seen.class_name,
    coalesce(by_id.subject, by_name.subject) AS subject,
    coalesce(by_id.grade, by_name.grade) AS grade,
    coalesce(by_id.term, by_name.term, first_day.term) AS term,
    CASE WHEN by_id.class_id IS NOT NULL THEN 'roster_id' WHEN by_name.class_name IS NOT NULL THEN 'roster_name'
         WHEN first_day.term IS NOT NULL THEN 'calendar' END AS term_source,
    coalesce(seen.lessons_seen, 0) AS lessons_seen,
    coalesce(seen.lessons_finished_seen, 0) AS lessons_finished_seen,
    coalesce(seen.lessons_expired_seen, 0) AS lessons_expired_seen,
    seen.first_lesson_date,
    seen.last_lesson_date,
    cp.finished AS progress_finished,
    cp.not_started AS progress_not_started,
    cp.on_class AS progress_on_class,
    cp.expired AS progress_expired,
    cp.total AS progress_total,
    CASE WHEN cp.total > 0 THEN cp.finished::DOUBLE / cp.total END AS progress_finished_share
FROM seen
FULL OUTER JOIN cp ON cp.class_id = seen.class_id
LEFT JOIN (SELECT * FROM rc WHERE class_id IS NOT NULL
           QUALIFY row_number() OVER (PARTITION BY class_id ORDER BY term, subject) = 1) AS by_id
       ON by_id.class_id = coalesce(seen.class_id, cp.class_id)
LEFT JOIN (SELECT * FROM rc WHERE class_id IS NULL AND class_name IS NOT NULL
           QUALIFY row_number() OVER (PARTITION BY class_name ORDER BY term, subject) = 1) AS by_name
       ON by_id.class_id IS NULL AND by_name.class_name = seen.class_name
LEFT JOIN dim_date AS first_day ON first_day.date = seen.first_lesson_date
ORDER BY class_id;

COMMENT ON TABLE dim_classroom IS 'One row per class (班级, API 30) seen in lessons or in the course-progress snapshot (API 26).';
COMMENT ON COLUMN dim_classroom.class_id IS 'Class id (key).';
COMMENT ON COLUMN dim_classroom.class_name IS 'Name on the class''s most recent lesson; NULL if the class only appears in course progress.';
COMMENT ON COLUMN dim_classroom.subject IS 'Subject from the roster''s courses (科目), matched by class id, else by exact class name; NULL without one.';
COMMENT ON COLUMN dim_classroom.grade IS 'Grade from the roster''s courses (年级); NULL without one.';
COMMENT ON COLUMN dim_classroom.term IS 'Term from the roster''s courses (学期); without one, the term of the class''s first lesson date in the lake (dim_date.term).';
COMMENT ON COLUMN dim_classroom.term_source IS 'Where subject/grade/term came from: roster_id, roster_name (roster matched by class name) or calendar (term only).';
COMMENT ON COLUMN dim_classroom.lessons_seen IS 'Lessons of the class in the lake (any status).';
COMMENT ON COLUMN dim_classroom.lessons_finished_seen IS 'Lessons of the class in the lake with status 2 (finished).';
COMMENT ON COLUMN dim_classroom.lessons_expired_seen IS 'Lessons of the class in the lake with status 3 (expired).';
COMMENT ON COLUMN dim_classroom.first_lesson_date IS 'Earliest lesson_date in the lake.';
COMMENT ON COLUMN dim_classroom.last_lesson_date IS 'Latest lesson_date in the lake.';
COMMENT ON COLUMN dim_classroom.progress_finished IS 'API 26 finish: lessons finished, from the latest snapshot; NULL when no snapshot row.';
COMMENT ON COLUMN dim_classroom.progress_not_started IS 'API 26 lessonNotStart: lessons not started.';
COMMENT ON COLUMN dim_classroom.progress_on_class IS 'API 26 lessonOnClass: lessons in class at snapshot time.';
COMMENT ON COLUMN dim_classroom.progress_expired IS 'API 26 lessonExpired: expired lessons.';
COMMENT ON COLUMN dim_classroom.progress_total IS 'API 26 total: all lessons of the course.';
COMMENT ON COLUMN dim_classroom.progress_finished_share IS 'progress_finished / progress_total (0..1); NULL when total is 0 or unknown.';
