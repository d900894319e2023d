-- mart_class_attendance_trend: one row per class with finished lessons: attendance in the last
-- 4 weeks against the 4 before, and the weekly slope (docs/definitions.md, "Classes with falling
-- attendance"). as_of = the last day with a finished lesson.
-- key: class_id
-- incremental: full

CREATE TABLE mart_class_attendance_trend AS
WITH w AS (
    SELECT max(lesson_date) AS as_of FROM mart_student_attendance_day
),
les AS (
    -- finished lessons with attendance rows, one row each (enrolled = their student-lessons)
    SELECT class_id, lesson_date, enrolled, attended
    FROM mart_lesson_attendance
    WHERE status = 2 AND enrolled > 0 AND class_id IS NOT NULL
),
p AS (
    SELECT
        les.class_id,
        count(*) AS lessons_held,
        sum(les.attended)::DOUBLE / sum(les.enrolled) AS attendance_rate,
        count(*) FILTER (WHERE les.lesson_date > w.as_of - 28) AS lessons_last_4w,
        sum(les.attended) FILTER (WHERE les.lesson_date > w.as_of - 28)::DOUBLE
            / nullif(sum(les.enrolled) FILTER (WHERE les.lesson_date > w.as_of - 28), 0) AS rate_last_4w,
        count(*) FILTER (WHERE les.lesson_date <= w.as_of - 28 AND les.lesson_date > w.as_of - 56) AS lessons_prev_4w,
        sum(les.attended) FILTER (WHERE les.lesson_date <= w.as_of - 28 AND les.lesson_date > w.as_of - 56)::DOUBLE
            / nullif(sum(les.enrolled) FILTER (WHERE les.lesson_date <= w.as_of - 28 AND les.lesson_date > w.as_of - 56), 0)
            AS rate_prev_4w
    FROM les CROSS JOIN w
    GROUP BY les.class_id
),
wk AS (
    -- x: weeks since the class's first week; the sums are exact (DECIMAL), so the slope does not depend on
    -- the order the rows are read in (an incremental build equals a full one bit for bit)
    SELECT class_id, CAST(attendance_rate AS DECIMAL(38, 18)) AS y,
           (week_start - min(week_start) OVER (PARTITION BY class_id)) // 7 AS x
    FROM mart_class_attendance_week
),
slope AS (
    SELECT class_id, count(*) AS weeks,
           CASE WHEN count(*) >= 2 AND count(*) * sum(x * x) - sum(x) * sum(x) <> 0
                THEN (count(*) * CAST(sum(x * y) AS DOUBLE) - sum(x) * CAST(sum(y) AS DOUBLE))
                     / (count(*) * sum(x * x) - sum(x) * sum(x)) END AS weekly_slope
    FROM wk
    GROUP BY class_id
)
SELECT
    p.class_id,
    c.class_name,
    c.subject,
    c.grade,
    c.term,
    w.as_of,
    p.lessons_held,
    p.attendance_rate,
    slope.weeks,
    slope.weekly_slope,
    p.lessons_last_4w,
    p.rate_last_4w,
    p.lessons_prev_4w,
    p.rate_prev_4w,
    p.rate_last_4w - p.rate_prev_4w AS rate_change,
    coalesce(p.lessons_last_4w >= 2 AND p.lessons_prev_4w >= 2 AND p.rate_last_4w - p.rate_prev_4w <= -0.10, false)
        AS falling
FROM p
CROSS JOIN w
LEFT JOIN slope USING (class_id)
LEFT JOIN dim_classroom AS c USING (class_id)
ORDER BY p.class_id;

COMMENT ON TABLE mart_class_attendance_trend IS 'One row per class with finished lessons: attendance over the window, in the last 4 weeks against the 4 before, and the slope of its weekly attendance. WHERE falling lists the classes to look at.';
COMMENT ON COLUMN mart_class_attendance_trend.class_id IS 'Class id (key).';
COMMENT ON COLUMN mart_class_attendance_trend.class_name IS 'Class name.';
COMMENT ON COLUMN mart_class_attendance_trend.subject IS 'Subject from the roster''s courses.';
COMMENT ON COLUMN mart_class_attendance_trend.grade IS 'Grade from the roster''s courses.';
COMMENT ON COLUMN mart_class_attendance_trend.term IS 'Term of the class (dim_classroom.term).';
COMMENT ON COLUMN mart_class_attendance_trend.as_of IS 'The reference day: the last lesson date with a finished lesson in the warehouse.';
COMMENT ON COLUMN mart_class_attendance_trend.lessons_held IS 'Finished lessons of the class in the window.';
COMMENT ON COLUMN mart_class_attendance_trend.attendance_rate IS 'Attended / enrolled student-lessons over the window.';
COMMENT ON COLUMN mart_class_attendance_trend.weeks IS 'ISO weeks with a finished lesson (rows of mart_class_attendance_week).';
COMMENT ON COLUMN mart_class_attendance_trend.weekly_slope IS 'Least-squares slope of the weekly attendance rate per week (e.g. -0.02: two points less each week); NULL with fewer than 2 weeks.';
COMMENT ON COLUMN mart_class_attendance_trend.lessons_last_4w IS 'Finished lessons in the last 28 days (as_of - 27 .. as_of).';
COMMENT ON COLUMN mart_class_attendance_trend.rate_last_4w IS 'Attendance rate over those.';
COMMENT ON COLUMN mart_class_attendance_trend.lessons_prev_4w IS 'Finished lessons in the 28 days before.';
COMMENT ON COLUMN mart_class_attendance_trend.rate_prev_4w IS 'Attendance rate over those.';
COMMENT ON COLUMN mart_class_attendance_trend.rate_change IS 'rate_last_4w - rate_prev_4w; NULL unless both exist.';
COMMENT ON COLUMN mart_class_attendance_trend.falling IS 'Attendance fell by 10 points or more (rate_change <= -0.10) with at least 2 lessons in each 4 weeks.';
