-- fct_course_progress: current course-progress snapshot (API 26).
-- key: class_id
-- incremental: full

CREATE TABLE fct_course_progress AS
SELECT
    class_id,
    finished,
    not_started,
    on_class,
    expired,
    total,
    finished + not_started + on_class + expired = total AS parts_add_up
FROM stg_course_progress
QUALIFY row_number() OVER (PARTITION BY class_id ORDER BY total DESC, finished DESC) = 1
ORDER BY class_id;

COMMENT ON TABLE fct_course_progress IS 'Course progress (API 26), current snapshot: one row per class.';
COMMENT ON COLUMN fct_course_progress.class_id IS 'Class id (key).';
COMMENT ON COLUMN fct_course_progress.finished IS 'Lessons finished.';
COMMENT ON COLUMN fct_course_progress.not_started IS 'Lessons not started.';
COMMENT ON COLUMN fct_course_progress.on_class IS 'Lessons in class at snapshot time.';
COMMENT ON COLUMN fct_course_progress.expired IS 'Expired lessons (not held).';
COMMENT ON COLUMN fct_course_progress.total IS 'Total lessons of the course.';
COMMENT ON COLUMN fct_course_progress.parts_add_up IS 'finished + not_started + on_class + expired = total (the API does not promise it).';
