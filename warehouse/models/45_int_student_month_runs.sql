-- int_student_month_runs: one row per student per calendar month with finished lessons (status 2),
-- summarising the month's lessons in time order (scheduled start, then lesson id) as the streak
-- marts need them: the absences that open and close the month and its longest run of absences,
-- and the attended lessons since the student last took part. A run that crosses months is the
-- closing run of one month, the months in between and the opening run of the next, so
-- mart_students_at_risk and mart_student_participation chain these rows instead of re-reading
-- every lesson, and a publish recomputes only the months of the changed days.
-- key: user_id, month_start
-- incremental: month

CREATE TABLE int_student_month_runs AS
WITH s AS (
    SELECT
        a.user_id, a.month_start, a.lesson_date, a.class_id, a.attended,
        coalesce(e.handups, 0) AS handups,
        coalesce(e.mic_on, 0) AS mic_on,
        coalesce(e.onstage, 0) AS onstage,
        a.attended AND (e.handups > 0 OR e.mic_on > 0 OR e.onstage > 0) AS took_part,
        row_number() OVER (PARTITION BY a.user_id, a.month_start ORDER BY l.scheduled_start, a.lesson_id) AS n,
        row_number() OVER (PARTITION BY a.user_id, a.month_start, a.attended
                           ORDER BY l.scheduled_start, a.lesson_id) AS m
    FROM fct_attendance AS a
    JOIN dim_lesson AS l USING (lesson_id)
    LEFT JOIN mart_student_engagement AS e USING (lesson_id, user_id)
    WHERE a.lesson_status = 2
),
runs AS (
    -- n - m is constant along a run of equal attendance
    SELECT user_id, month_start, count(*) AS len, min(n) AS first_n, max(n) AS last_n
    FROM s WHERE NOT attended
    GROUP BY user_id, month_start, n - m
),
r AS (
    SELECT user_id, month_start,
           max(len) AS longest,
           max(len) FILTER (WHERE first_n = 1) AS opening,
           max(last_n) AS last_absent_n,
           arg_max(len, last_n) AS last_run
    FROM runs
    GROUP BY user_id, month_start
),
per AS (
    SELECT
        user_id,
        month_start,
        count(*) AS lessons,
        count(*) FILTER (WHERE attended) AS attended,
        list(DISTINCT class_id ORDER BY class_id) FILTER (WHERE class_id IS NOT NULL) AS class_ids,
        max(lesson_date) FILTER (WHERE attended) AS last_attended_date,
        count(*) FILTER (WHERE took_part) AS lessons_taking_part,
        count(*) FILTER (WHERE attended) - coalesce(max(m) FILTER (WHERE took_part), 0) AS attended_since_taking_part,
        max(lesson_date) FILTER (WHERE took_part) AS last_took_part_date,
        CAST(coalesce(sum(handups) FILTER (WHERE attended), 0) AS BIGINT) AS handups,
        CAST(coalesce(sum(mic_on) FILTER (WHERE attended), 0) AS BIGINT) AS mic_on,
        CAST(coalesce(sum(onstage) FILTER (WHERE attended), 0) AS BIGINT) AS onstage
    FROM s
    GROUP BY user_id, month_start
)
SELECT
    per.user_id,
    per.month_start,
    per.lessons,
    per.attended,
    CAST(coalesce(r.opening, 0) AS BIGINT) AS opening_absences,
    CAST(CASE WHEN r.last_absent_n = per.lessons THEN r.last_run ELSE 0 END AS BIGINT) AS closing_absences,
    CAST(coalesce(r.longest, 0) AS BIGINT) AS longest_absence_run,
    per.last_attended_date,
    per.class_ids,
    per.lessons_taking_part,
    CAST(per.attended_since_taking_part AS BIGINT) AS attended_since_taking_part,
    per.last_took_part_date,
    per.handups,
    per.mic_on,
    per.onstage
FROM per
LEFT JOIN r USING (user_id, month_start)
ORDER BY per.user_id, per.month_start;

COMMENT ON TABLE int_student_month_runs IS 'Intermediate (not a feed): per student per calendar month with finished lessons (status 2), the runs of absences and of attended lessons without taking part, in lesson order (scheduled start, then lesson id). mart_students_at_risk and mart_student_participation chain the months.';
COMMENT ON COLUMN int_student_month_runs.user_id IS 'Student user id.';
COMMENT ON COLUMN int_student_month_runs.month_start IS 'First day of the calendar month.';
COMMENT ON COLUMN int_student_month_runs.lessons IS 'Finished lessons the student was enrolled in that month.';
COMMENT ON COLUMN int_student_month_runs.attended IS 'Of those, attended.';
COMMENT ON COLUMN int_student_month_runs.opening_absences IS 'Lessons missed in a row from the month''s first lesson (all of them when none was attended).';
COMMENT ON COLUMN int_student_month_runs.closing_absences IS 'Lessons missed in a row up to the month''s last lesson (all of them when none was attended).';
COMMENT ON COLUMN int_student_month_runs.longest_absence_run IS 'Longest run of missed lessons within the month.';
COMMENT ON COLUMN int_student_month_runs.last_attended_date IS 'Date of the month''s last attended lesson; NULL if none.';
COMMENT ON COLUMN int_student_month_runs.class_ids IS 'Distinct class ids of the month''s finished lessons (for counting classes across months).';
COMMENT ON COLUMN int_student_month_runs.lessons_taking_part IS 'Attended lessons with a hand-up, microphone-on or on-stage event (API 27).';
COMMENT ON COLUMN int_student_month_runs.attended_since_taking_part IS 'Attended lessons after the month''s last lesson taking part (all attended lessons when none).';
COMMENT ON COLUMN int_student_month_runs.last_took_part_date IS 'Date of the month''s last lesson taking part; NULL if none.';
COMMENT ON COLUMN int_student_month_runs.handups IS 'Hand-ups over the attended lessons.';
COMMENT ON COLUMN int_student_month_runs.mic_on IS 'Microphone-on events over the attended lessons.';
COMMENT ON COLUMN int_student_month_runs.onstage IS 'On-stage events over the attended lessons.';
