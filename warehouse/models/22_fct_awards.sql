-- fct_awards: star awards per student per lesson (API 25).
-- key: lesson_id, user_id
-- incremental: day

CREATE TABLE fct_awards AS
SELECT lesson_id, lesson_date, user_id, award_num AS stars
FROM stg_awards
ORDER BY lesson_id, user_id;

COMMENT ON TABLE fct_awards IS 'Star awards (API 25): one row per student with at least one star in a lesson.';
COMMENT ON COLUMN fct_awards.lesson_id IS 'Lesson id.';
COMMENT ON COLUMN fct_awards.lesson_date IS 'Lesson date.';
COMMENT ON COLUMN fct_awards.user_id IS 'Student user id.';
COMMENT ON COLUMN fct_awards.stars IS 'Number of stars awarded (API 25 award_num).';
