-- mart_students_at_risk: one row per student with finished lessons: absence streaks across all
-- their classes and the attendance trend of the last 4 weeks against the 4 before
-- (docs/definitions.md, "Students at risk"). as_of = the last day with a finished lesson.
-- key: user_id
-- incremental: full

CREATE TABLE mart_students_at_risk AS
WITH w AS (
    SELECT max(lesson_date) AS as_of FROM mart_student_attendance_day
),
mo AS (
    -- the student's months in order; g numbers the months with an attended lesson, so a group is one
    -- such month and the all-absent months after it
    SELECT *, sum(CASE WHEN attended > 0 THEN 1 ELSE 0 END)
                  OVER (PARTITION BY user_id ORDER BY month_start ROWS UNBOUNDED PRECEDING) AS g
    FROM int_student_month_runs
),
grp AS (
    -- the run of absences still open at the end of a group: its month's closing run (none for group 0,
    -- the all-absent months before the first attended lesson) and every lesson of its all-absent months
    SELECT user_id, g,
           coalesce(max(closing_absences) FILTER (WHERE attended > 0), 0)
           + coalesce(sum(lessons) FILTER (WHERE attended = 0), 0) AS open_run
    FROM mo
    GROUP BY user_id, g
),
runs AS (
    -- the open run continues into the opening run of the next group's month
    SELECT grp.user_id, grp.g, grp.open_run, grp.open_run + coalesce(nx.opening_absences, 0) AS len
    FROM grp
    LEFT JOIN mo AS nx ON nx.user_id = grp.user_id AND nx.g = grp.g + 1 AND nx.attended > 0
),
rs AS (
    SELECT user_id, max(len) AS longest_across, arg_max(open_run, g) AS current_run
    FROM runs
    GROUP BY user_id
),
tot AS (
    SELECT
        user_id,
        CAST(sum(lessons) AS BIGINT) AS lessons,
        CAST(sum(attended) AS BIGINT) AS attended,
        CAST(len(list_distinct(flatten(list(class_ids)))) AS BIGINT) AS classes,
        max(last_attended_date) AS last_attended_date,
        max(longest_absence_run) AS longest_within
    FROM int_student_month_runs
    GROUP BY user_id
),
rec AS (
    SELECT
        d.user_id,
        CAST(coalesce(sum(d.lessons) FILTER (WHERE d.lesson_date > w.as_of - 28), 0) AS BIGINT) AS lessons_last_4w,
        CAST(coalesce(sum(d.attended) FILTER (WHERE d.lesson_date > w.as_of - 28), 0) AS BIGINT) AS attended_last_4w,
        CAST(coalesce(sum(d.lessons) FILTER (WHERE d.lesson_date <= w.as_of - 28), 0) AS BIGINT) AS lessons_prev_4w,
        CAST(coalesce(sum(d.attended) FILTER (WHERE d.lesson_date <= w.as_of - 28), 0) AS BIGINT) AS attended_prev_4w
    FROM mart_student_attendance_day AS d CROSS JOIN w
    WHERE d.lesson_date > w.as_of - 56
    GROUP BY d.user_id
),
j AS (
    SELECT
        tot.user_id, tot.classes, tot.lessons, tot.attended, tot.last_attended_date,
        rs.current_run AS current_absence_streak,
        greatest(tot.longest_within, rs.longest_across) AS longest_absence_streak,
        coalesce(rec.lessons_last_4w, 0) AS lessons_last_4w,
        coalesce(rec.lessons_prev_4w, 0) AS lessons_prev_4w,
        rec.attended_last_4w::DOUBLE / nullif(rec.lessons_last_4w, 0) AS rate_last_4w,
        rec.attended_prev_4w::DOUBLE / nullif(rec.lessons_prev_4w, 0) AS rate_prev_4w
    FROM tot
    JOIN rs USING (user_id)
    LEFT JOIN rec USING (user_id)
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
