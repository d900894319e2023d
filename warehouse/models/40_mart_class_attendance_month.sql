-- mart_class_attendance_month: one row per class per calendar month with finished lessons (status 2).
-- key: class_id, month_start
-- incremental: month

CREATE TABLE mart_class_attendance_month AS
SELECT
    a.class_id,
    any_value(c.class_name) AS class_name,
    any_value(c.subject) AS subject,
    any_value(c.grade) AS grade,
    a.month_start,
    strftime(a.month_start, '%Y-%m') AS month_label,
    count(DISTINCT a.lesson_id) AS lessons_held,
    count(DISTINCT a.user_id) AS distinct_students,
    count(*) AS student_lessons,
    count(*) FILTER (WHERE a.attended) AS attended,
    count(*) FILTER (WHERE NOT a.attended) AS absent,
    count(*) FILTER (WHERE a.is_late) AS late,
    count(*) FILTER (WHERE a.attended)::DOUBLE / count(*) AS attendance_rate,
    count(*) FILTER (WHERE a.is_late)::DOUBLE / nullif(count(*) FILTER (WHERE a.attended), 0) AS late_rate,
    avg(CAST(a.listen_share AS DECIMAL(38, 18))) FILTER (WHERE a.attended) AS avg_listen_share
FROM fct_attendance AS a
LEFT JOIN dim_classroom AS c USING (class_id)
WHERE a.lesson_status = 2 AND a.class_id IS NOT NULL
GROUP BY a.class_id, a.month_start
ORDER BY a.class_id, a.month_start;

COMMENT ON TABLE mart_class_attendance_month IS 'Per class (班级) per calendar month: attendance over its finished lessons (status 2). Lessons whose class is unknown are left out.';
COMMENT ON COLUMN mart_class_attendance_month.class_id IS 'Class id.';
COMMENT ON COLUMN mart_class_attendance_month.class_name IS 'Class name (dim_classroom).';
COMMENT ON COLUMN mart_class_attendance_month.subject IS 'Subject from the roster''s courses; NULL without one.';
COMMENT ON COLUMN mart_class_attendance_month.grade IS 'Grade from the roster''s courses; NULL without one.';
COMMENT ON COLUMN mart_class_attendance_month.month_start IS 'First day of the calendar month.';
COMMENT ON COLUMN mart_class_attendance_month.month_label IS 'Month as text, e.g. 2026-11.';
COMMENT ON COLUMN mart_class_attendance_month.lessons_held IS 'Finished lessons of the class in the period.';
COMMENT ON COLUMN mart_class_attendance_month.distinct_students IS 'Students enrolled in at least one of them.';
COMMENT ON COLUMN mart_class_attendance_month.student_lessons IS 'Enrolled student-lessons (the attendance-rate denominator).';
COMMENT ON COLUMN mart_class_attendance_month.attended IS 'Student-lessons attended.';
COMMENT ON COLUMN mart_class_attendance_month.absent IS 'student_lessons - attended.';
COMMENT ON COLUMN mart_class_attendance_month.late IS 'Student-lessons attended late.';
COMMENT ON COLUMN mart_class_attendance_month.attendance_rate IS 'attended / student_lessons (0..1).';
COMMENT ON COLUMN mart_class_attendance_month.late_rate IS 'late / attended; NULL when nobody attended.';
COMMENT ON COLUMN mart_class_attendance_month.avg_listen_share IS 'Mean listen share over attendees (fct_attendance.listen_share).';
