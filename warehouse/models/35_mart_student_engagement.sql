-- mart_student_engagement: per student per finished lesson, with the engagement score
-- (docs/definitions.md):
--   score = 50 * listen_share + 15 * min(handups, 3) / 3 + 10 * min(onstage, 1)
--         + 10 * min(mic_on, 1) + 15 * min(stars, 5) / 5, rounded to 1 decimal (0..100).
-- key: lesson_id, user_id
-- incremental: day

CREATE TABLE mart_student_engagement AS
WITH ec AS (
    SELECT
        lesson_id,
        user_id,
        sum(event_count) FILTER (WHERE event_type = 'handup') AS handups,
        sum(event_count) FILTER (WHERE event_type = 'onstage') AS onstage,
        sum(event_count) FILTER (WHERE event_type = 'toggle_mic_on') AS mic_on,
        sum(event_count) FILTER (WHERE event_type = 'toggle_mic_off') AS mic_off,
        sum(event_count) FILTER (WHERE event_type = 'reward') AS rewards,
        sum(event_count) FILTER (WHERE event_type = 'reward_all') AS reward_all
    FROM fct_key_event_counts
    GROUP BY lesson_id, user_id
),
aw AS (
    SELECT lesson_id, user_id, sum(stars) AS stars
    FROM fct_awards
    GROUP BY lesson_id, user_id
),
j AS (
    SELECT
        lesson_id,
        user_id,
        a.attended,
        a.listen_share,
        CAST(coalesce(ec.handups, 0) AS BIGINT) AS handups,
        CAST(coalesce(ec.onstage, 0) AS BIGINT) AS onstage,
        CAST(coalesce(ec.mic_on, 0) AS BIGINT) AS mic_on,
        CAST(coalesce(ec.mic_off, 0) AS BIGINT) AS mic_off,
        CAST(coalesce(ec.rewards, 0) AS BIGINT) AS rewards,
        CAST(coalesce(ec.reward_all, 0) AS BIGINT) AS reward_all,
        CAST(coalesce(aw.stars, 0) AS BIGINT) AS stars
    FROM (SELECT lesson_id, user_id, attended, listen_share FROM fct_attendance WHERE lesson_status = 2) AS a
    FULL OUTER JOIN ec USING (lesson_id, user_id)
    FULL OUTER JOIN aw USING (lesson_id, user_id)
)
SELECT
    j.lesson_id,
    l.lesson_date,
    j.user_id,
    coalesce(j.attended, false) AS attended,
    j.handups,
    j.onstage,
    j.mic_on,
    j.mic_off,
    j.rewards,
    j.reward_all,
    j.stars,
    j.listen_share,
    round(
        50.0 * coalesce(j.listen_share, 0)
        + 15.0 * least(j.handups, 3) / 3
        + 10.0 * least(j.onstage, 1)
        + 10.0 * least(j.mic_on, 1)
        + 15.0 * least(j.stars, 5) / 5,
        1) AS engagement_score
FROM j
JOIN dim_lesson AS l USING (lesson_id)
WHERE l.status = 2
ORDER BY j.lesson_id, j.user_id;

COMMENT ON TABLE mart_student_engagement IS 'Per student per finished lesson (status 2): in-class activity and the engagement score. Students come from attendance, event counts or awards.';
COMMENT ON COLUMN mart_student_engagement.lesson_id IS 'Lesson id.';
COMMENT ON COLUMN mart_student_engagement.lesson_date IS 'Lesson date.';
COMMENT ON COLUMN mart_student_engagement.user_id IS 'Student user id.';
COMMENT ON COLUMN mart_student_engagement.attended IS 'listen_minutes > 0 (false when the student is not in the attendance list).';
COMMENT ON COLUMN mart_student_engagement.handups IS 'Hand-ups (API 27 handup).';
COMMENT ON COLUMN mart_student_engagement.onstage IS 'Times on stage (API 27 onstage).';
COMMENT ON COLUMN mart_student_engagement.mic_on IS 'Microphone turned on (API 27 toggle_mic_on).';
COMMENT ON COLUMN mart_student_engagement.mic_off IS 'Microphone turned off (API 27 toggle_mic_off).';
COMMENT ON COLUMN mart_student_engagement.rewards IS 'Individual rewards (API 27 reward).';
COMMENT ON COLUMN mart_student_engagement.reward_all IS 'Group rewards received (API 27 reward_all).';
COMMENT ON COLUMN mart_student_engagement.stars IS 'Stars awarded (API 25 award_num), 0 if none.';
COMMENT ON COLUMN mart_student_engagement.listen_share IS 'fct_attendance.listen_share (0..1); NULL if not in the attendance list.';
COMMENT ON COLUMN mart_student_engagement.engagement_score IS '0..100, rounded to 1 decimal: 50*listen_share + 15*min(handups,3)/3 + 10*min(onstage,1) + 10*min(mic_on,1) + 15*min(stars,5)/5 (NULL listen_share counts as 0).';
