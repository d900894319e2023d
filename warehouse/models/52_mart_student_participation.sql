-- mart_student_participation: one row per student who attended a finished lesson: how often they
-- took part (hand-up, microphone on or on stage) and for how many attended lessons in a row they
-- have not (docs/definitions.md, "Students who never take part").
-- key: user_id
-- incremental: full

CREATE TABLE mart_student_participation AS
WITH m AS (
    SELECT * FROM int_student_month_runs WHERE attended > 0
),
last_part AS (
    SELECT user_id, max(month_start) FILTER (WHERE lessons_taking_part > 0) AS month_start
    FROM m GROUP BY user_id
),
per AS (
    SELECT
        m.user_id,
        CAST(sum(m.attended) AS BIGINT) AS attended_lessons,
        CAST(sum(m.lessons_taking_part) AS BIGINT) AS lessons_taking_part,
        -- attended lessons since the last one taking part: that month's, then every later month's
        CAST(coalesce(max(m.attended_since_taking_part) FILTER (WHERE m.month_start = lp.month_start), 0)
             + coalesce(sum(m.attended) FILTER (WHERE lp.month_start IS NULL OR m.month_start > lp.month_start), 0)
             AS BIGINT) AS lessons_without_taking_part,
        max(m.last_took_part_date) AS last_took_part_date,
        CAST(sum(m.handups) AS BIGINT) AS handups,
        CAST(sum(m.mic_on) AS BIGINT) AS mic_on,
        CAST(sum(m.onstage) AS BIGINT) AS onstage
    FROM m
    JOIN last_part AS lp USING (user_id)
    GROUP BY m.user_id
)
SELECT
    per.user_id,
    st.display_name AS student_name,
    per.attended_lessons,
    per.lessons_taking_part,
    per.lessons_taking_part::DOUBLE / per.attended_lessons AS participation_rate,
    per.lessons_without_taking_part,
    per.lessons_taking_part = 0 AS never_took_part,
    per.last_took_part_date,
    per.handups,
    per.mic_on,
    per.onstage
FROM per
LEFT JOIN dim_student AS st USING (user_id)
ORDER BY per.user_id;

COMMENT ON TABLE mart_student_participation IS 'One row per student who attended a finished lesson: lessons in which they took part (hand-up, microphone on or on stage) and the current run of attended lessons without. WHERE lessons_without_taking_part >= N lists the silent ones.';
COMMENT ON COLUMN mart_student_participation.user_id IS 'Student user id (key).';
COMMENT ON COLUMN mart_student_participation.student_name IS 'Name from the roster, else 学员 <user_id>.';
COMMENT ON COLUMN mart_student_participation.attended_lessons IS 'Finished lessons the student attended.';
COMMENT ON COLUMN mart_student_participation.lessons_taking_part IS 'Of those, lessons with at least one hand-up, microphone-on or on-stage event (API 27).';
COMMENT ON COLUMN mart_student_participation.participation_rate IS 'lessons_taking_part / attended_lessons.';
COMMENT ON COLUMN mart_student_participation.lessons_without_taking_part IS 'Attended lessons in a row, up to the latest, without taking part (ordered by scheduled start); equals attended_lessons when they never took part.';
COMMENT ON COLUMN mart_student_participation.never_took_part IS 'No hand-up, microphone or stage in any attended lesson of the window.';
COMMENT ON COLUMN mart_student_participation.last_took_part_date IS 'Date of the last lesson they took part in; NULL if never.';
COMMENT ON COLUMN mart_student_participation.handups IS 'Hand-ups over attended lessons.';
COMMENT ON COLUMN mart_student_participation.mic_on IS 'Microphone-on events over attended lessons.';
COMMENT ON COLUMN mart_student_participation.onstage IS 'On-stage events over attended lessons.';
