-- fct_key_event_counts: in-class key-event counts (API 27).
-- key: lesson_id, user_id, event_type
-- incremental: day

CREATE TABLE fct_key_event_counts AS
SELECT lesson_id, lesson_date, user_id, event_type, event_count
FROM stg_key_event_counts
ORDER BY lesson_id, user_id, event_type;

COMMENT ON TABLE fct_key_event_counts IS 'Key-event counts (API 27): one row per lesson, student and event type with a count > 0.';
COMMENT ON COLUMN fct_key_event_counts.lesson_id IS 'Lesson id.';
COMMENT ON COLUMN fct_key_event_counts.lesson_date IS 'Lesson date.';
COMMENT ON COLUMN fct_key_event_counts.user_id IS 'Student user id.';
COMMENT ON COLUMN fct_key_event_counts.event_type IS 'onstage (went on stage), handup (raised hand), reward (individual reward), toggle_mic_on, toggle_mic_off, reward_all (group reward).';
COMMENT ON COLUMN fct_key_event_counts.event_count IS 'Number of events of that type.';
