-- mart_students_at_risk: one row per student with finished lessons: absence streaks across all
-- their classes and the attendance trend of the last 4 weeks against the 4 before
-- (docs/definitions.md, "Students at risk"). as_of = the last day with a finished lesson.
-- key: user_id

CREATE TABLE mart_students_at_risk AS
WITH w AS (
    SELECT max(lesson_date) AS as_of FROM fct_attendance WHERE lesson_status = 2
),
s AS (
    -- the student's finished lessons in time order; n - m numbers each run of equal attendance
    SELECT
        a.user_id, a.lesson_date, a.class_id, a.attended,
        row_number() OVER (PARTITION BY a.user_id ORDER BY l.scheduled_start, a.lesson_id) AS n,
        row_number() OVER (PARTITION BY a.user_id, a.attended ORDER BY l.scheduled_start, a.lesson_id) AS m
    FROM fct_attendance AS a
    JOIN dim_lesson AS l USING (lesson_id)
    WHERE a.lesson_status = 2
),
runs AS (
    SELECT user_id, count(*) AS len, max(n) AS last_n
    FROM s WHERE NOT attended
    GROUP BY user_id, n - m
),
per AS (
    SELECT
        s.user_id,
        count(*) AS lessons,
        count(*) FILTER (WHERE s.attended) AS attended,
        count(DISTINCT s.class_id) AS classes,
        max(s.lesson_date) FILTER (WHERE s.attended) AS last_attended_date,
        max(s.n) AS last_n,
        count(*) FILTER (WHERE s.lesson_date > w.as_of - 28) AS lessons_last_4w,
        count(*) FILTER (WHERE s.lesson_date > w.as_of - 28 AND s.attended) AS attended_last_4w,
        count(*) FILTER (WHERE s.lesson_date <= w.as_of - 28 AND s.lesson_date > w.as_of - 56) AS lessons_prev_4w,
        count(*) FILTER (WHERE s.lesson_date <= w.as_of - 28 AND s.lesson_date > w.as_of - 56 AND s.attended)
            AS attended_prev_4w
    FROM s CROSS JOIN w
    GROUP BY s.user_id
),
j AS (
    SELECT
        per.*,
        coalesce((SELECT max(r.len) FROM runs AS r WHERE r.user_id = per.user_id AND r.last_n = per.last_n), 0)
            AS current_absence_streak,
        coalesce((SELECT max(r.len) FROM runs AS r WHERE r.user_id = per.user_id), 0) AS longest_absence_streak,
        attended_last_4w::DOUBLE / nullif(lessons_last_4w, 0) AS rate_last_4w,
        attended_prev_4w::DOUBLE / nullif(lessons_prev_4w, 0) AS rate_prev_4w
    FROM per
)
SELECT
    j.user_id,
    st.display_name AS student_name,
    w.as_of,
    j.classes,
    j.lessons,
    j.attended,
    j.attended::DOUBLE / j.lessons AS attendance_rate,
    CAST(j.current_absence_streak AS BIGINT) AS current_absence_streak,
    CAST(j.longest_absence_streak AS BIGINT) AS longest_absence_streak,
    j.last_attended_date,
    j.lessons_last_4w,
    j.rate_last_4w,
    j.lessons_prev_4w,
    j.rate_prev_4w,
    j.rate_last_4w - j.rate_prev_4w AS rate_change,
    j.current_absence_streak >= 3
        OR (j.lessons_last_4w >= 2 AND j.lessons_prev_4w >= 2 AND j.rate_last_4w - j.rate_prev_4w <= -0.25)
        AS at_risk,
    CASE WHEN j.current_absence_streak >= 3 THEN 'absent ' || j.current_absence_streak || ' in a row'
         WHEN j.lessons_last_4w >= 2 AND j.lessons_prev_4w >= 2 AND j.rate_last_4w - j.rate_prev_4w <= -0.25
         THEN 'attendance fell ' || CAST(round(100 * (j.rate_prev_4w - j.rate_last_4w)) AS INTEGER) || ' points'
    END AS risk_reason
FROM j
CROSS JOIN w
LEFT JOIN dim_student AS st USING (user_id)
ORDER BY j.user_id;

COMMENT ON TABLE mart_students_at_risk IS 'One row per student with finished lessons: current and longest absence streak across all their classes, and attendance in the last 4 weeks against the 4 weeks before (as of the last day with a finished lesson). WHERE at_risk lists whom to call.';
COMMENT ON COLUMN mart_students_at_risk.user_id IS 'Student user id (key).';
COMMENT ON COLUMN mart_students_at_risk.student_name IS 'Name from the roster, else 学员 <user_id>.';
COMMENT ON COLUMN mart_students_at_risk.as_of IS 'The reference day: the last lesson date with a finished lesson in the warehouse.';
COMMENT ON COLUMN mart_students_at_risk.classes IS 'Distinct classes of the student''s finished lessons.';
COMMENT ON COLUMN mart_students_at_risk.lessons IS 'Finished lessons the student was enrolled in.';
COMMENT ON COLUMN mart_students_at_risk.attended IS 'Of those, attended.';
COMMENT ON COLUMN mart_students_at_risk.attendance_rate IS 'attended / lessons over the whole window.';
COMMENT ON COLUMN mart_students_at_risk.current_absence_streak IS 'Finished lessons missed in a row since the last attended one (ordered by scheduled start, across all classes); 0 if the last lesson was attended.';
COMMENT ON COLUMN mart_students_at_risk.longest_absence_streak IS 'Longest run of consecutive missed finished lessons in the window.';
COMMENT ON COLUMN mart_students_at_risk.last_attended_date IS 'Date of the last attended lesson; NULL if never attended.';
COMMENT ON COLUMN mart_students_at_risk.lessons_last_4w IS 'Finished lessons in the last 28 days (as_of - 27 .. as_of).';
COMMENT ON COLUMN mart_students_at_risk.rate_last_4w IS 'Attendance rate over those; NULL without lessons.';
COMMENT ON COLUMN mart_students_at_risk.lessons_prev_4w IS 'Finished lessons in the 28 days before (as_of - 55 .. as_of - 28).';
COMMENT ON COLUMN mart_students_at_risk.rate_prev_4w IS 'Attendance rate over those; NULL without lessons.';
COMMENT ON COLUMN mart_students_at_risk.rate_change IS 'rate_last_4w - rate_prev_4w (negative: attending less); NULL unless both exist.';
COMMENT ON COLUMN mart_students_at_risk.at_risk IS 'current_absence_streak >= 3, or attendance fell by 25 points or more (rate_change <= -0.25, with at least 2 lessons in each 4 weeks).';
COMMENT ON COLUMN mart_students_at_risk.risk_reason IS 'Why at_risk, in words; NULL when not at risk.';
