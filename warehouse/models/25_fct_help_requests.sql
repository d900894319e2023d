-- fct_help_requests: help requests raised in class (API 16).
-- key: lesson_id, user_id, help_time, help_type?
-- incremental: day

CREATE TABLE fct_help_requests AS
SELECT
    h.lesson_id,
    h.lesson_date,
    h.user_id,
    h.help_type,
    h.help_item_name,
    h.help_content,
    h.help_time,
    CAST(floor((epoch(h.help_time) - epoch(l.scheduled_start)) / 60.0) AS INTEGER) AS minute_of_lesson
FROM stg_help_requests AS h
LEFT JOIN dim_lesson AS l USING (lesson_id)
ORDER BY h.lesson_id, h.user_id, h.help_time, h.help_type;

COMMENT ON TABLE fct_help_requests IS 'Help requests (API 16): one row per request.';
COMMENT ON COLUMN fct_help_requests.lesson_id IS 'Lesson id.';
COMMENT ON COLUMN fct_help_requests.lesson_date IS 'Day whose extraction window returned the request.';
COMMENT ON COLUMN fct_help_requests.user_id IS 'User who asked for help.';
COMMENT ON COLUMN fct_help_requests.help_type IS 'Help type as returned, e.g. 听不到老师声音 (cannot hear the teacher).';
COMMENT ON COLUMN fct_help_requests.help_item_name IS 'Help item name as returned (undocumented by the API).';
COMMENT ON COLUMN fct_help_requests.help_content IS 'Free-text content.';
COMMENT ON COLUMN fct_help_requests.help_time IS 'When help was requested, Beijing wall time.';
COMMENT ON COLUMN fct_help_requests.minute_of_lesson IS 'Whole minutes since the lesson''s scheduled start; NULL if the lesson is unknown.';
