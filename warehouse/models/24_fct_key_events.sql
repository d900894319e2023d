-- fct_key_events: one row per key-event time (API 28).
-- key: lesson_id, user_id, event_type, event_time
-- incremental: day

CREATE TABLE fct_key_events AS
SELECT
    e.lesson_id,
    e.lesson_date,
    e.user_id,
    e.event_type,
    e.event_time,
    CAST(floor((epoch(e.event_time) - epoch(l.scheduled_start)) / 60.0) AS INTEGER) AS minute_of_lesson
FROM stg_key_events AS e
LEFT JOIN dim_lesson AS l USING (lesson_id)
ORDER BY e.lesson_id, e.user_id, e.event_type, e.event_time;

COMMENT ON TABLE fct_key_events IS 'Key-event times (API 28): one row per event.';
COMMENT ON COLUMN fct_key_events.lesson_id IS 'Lesson id.';
COMMENT ON COLUMN fct_key_events.lesson_date IS 'Lesson date.';
COMMENT ON COLUMN fct_key_events.user_id IS 'Student user id.';
COMMENT ON COLUMN fct_key_events.event_type IS 'Event type (see fct_key_event_counts.event_type).';
COMMENT ON COLUMN fct_key_events.event_time IS 'When the event happened, Beijing wall time.';
COMMENT ON COLUMN fct_key_events.minute_of_lesson IS 'Whole minutes since the scheduled start: floor((event_time - scheduled_start) / 60 s); 0 is the first minute, negative before the start; NULL if the lesson is unknown.';
