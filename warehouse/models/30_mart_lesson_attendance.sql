-- mart_lesson_attendance: one row per lesson.
-- key: lesson_id
-- incremental: day

CREATE TABLE mart_lesson_attendance AS
WITH a AS (
    SELECT
        lesson_id,
        count(*) AS enrolled,
        count(*) FILTER (WHERE attended) AS attended,
        count(*) FILTER (WHERE is_late) AS late,
        count(*) FILTER (WHERE is_late_5min) AS late_5min,
        count(*) FILTER (WHERE is_early_leaver) AS early_leavers,
        CAST(sum(listen_minutes) AS BIGINT) AS listen_minutes,
        avg(CAST(listen_share AS DECIMAL(38, 18))) FILTER (WHERE attended) AS avg_listen_share
    FROM fct_attendance
    GROUP BY lesson_id
)
SELECT
    l.lesson_id,
    l.lesson_date,
    l.week_start,
    l.month_start,
    l.term,
    l.weekday,
    l.start_hour,
    l.scheduled_start,
    l.class_id,
    l.class_name,
    c.subject,
    c.grade,
    l.teacher_id,
    coalesce(dt.teacher_name, l.teacher_name) AS teacher_name,
    l.status,
    l.status_label,
    l.scheduled_minutes,
    coalesce(a.enrolled, 0) AS enrolled,
    coalesce(a.attended, 0) AS attended,
    coalesce(a.enrolled, 0) - coalesce(a.attended, 0) AS absent,
    CASE WHEN l.status = 2 AND a.enrolled > 0 THEN a.attended::DOUBLE / a.enrolled END AS attendance_rate,
    coalesce(a.late, 0) AS late,
    coalesce(a.late_5min, 0) AS late_5min,
    coalesce(a.early_leavers, 0) AS early_leavers,
    coalesce(a.listen_minutes, 0) AS listen_minutes,
    CASE WHEN l.status = 2 THEN a.avg_listen_share END AS avg_listen_share,
    t.late_minutes AS teacher_late_minutes,
    t.punctual AS teacher_punctual
FROM dim_lesson AS l
LEFT JOIN a USING (lesson_id)
LEFT JOIN fct_teacher_inout AS t USING (lesson_id)
LEFT JOIN dim_classroom AS c ON c.class_id = l.class_id
LEFT JOIN dim_teacher AS dt ON dt.teacher_id = l.teacher_id
ORDER BY l.lesson_id;

COMMENT ON TABLE mart_lesson_attendance IS 'One row per lesson: enrolment, attendance, lateness and teacher punctuality. Rates only for finished lessons (status 2).';
COMMENT ON COLUMN mart_lesson_attendance.lesson_id IS 'Lesson id (key).';
COMMENT ON COLUMN mart_lesson_attendance.lesson_date IS 'Lesson date.';
COMMENT ON COLUMN mart_lesson_attendance.week_start IS 'Monday of the lesson''s ISO week.';
COMMENT ON COLUMN mart_lesson_attendance.month_start IS 'First day of the lesson''s month.';
COMMENT ON COLUMN mart_lesson_attendance.term IS 'Term of the lesson date, e.g. 2026秋.';
COMMENT ON COLUMN mart_lesson_attendance.weekday IS 'ISO weekday, 1 Monday .. 7 Sunday.';
COMMENT ON COLUMN mart_lesson_attendance.start_hour IS 'Hour 0..23 of the scheduled start, Beijing wall time.';
COMMENT ON COLUMN mart_lesson_attendance.scheduled_start IS 'Scheduled start, Beijing wall time.';
COMMENT ON COLUMN mart_lesson_attendance.class_id IS 'Class id.';
COMMENT ON COLUMN mart_lesson_attendance.class_name IS 'Class name.';
COMMENT ON COLUMN mart_lesson_attendance.subject IS 'Subject of the class from the roster''s courses (dim_classroom.subject).';
COMMENT ON COLUMN mart_lesson_attendance.grade IS 'Grade of the class from the roster''s courses.';
COMMENT ON COLUMN mart_lesson_attendance.teacher_id IS 'Teacher id (see dim_lesson.teacher_id).';
COMMENT ON COLUMN mart_lesson_attendance.teacher_name IS 'Teacher name: the roster''s, else the lesson''s (API 19).';
COMMENT ON COLUMN mart_lesson_attendance.status IS 'Lesson status (0 not started, 1 in class, 2 finished, 3 expired).';
COMMENT ON COLUMN mart_lesson_attendance.status_label IS 'Status in words.';
COMMENT ON COLUMN mart_lesson_attendance.scheduled_minutes IS 'Scheduled duration in minutes (dim_lesson.scheduled_minutes).';
COMMENT ON COLUMN mart_lesson_attendance.enrolled IS 'Students listed by API 23 (enrolled, present or not).';
COMMENT ON COLUMN mart_lesson_attendance.attended IS 'Students with listen_minutes > 0.';
COMMENT ON COLUMN mart_lesson_attendance.absent IS 'enrolled - attended.';
COMMENT ON COLUMN mart_lesson_attendance.attendance_rate IS 'attended / enrolled, finished lessons only (NULL for other statuses or no enrolment).';
COMMENT ON COLUMN mart_lesson_attendance.late IS 'Attendees with late_minutes > 0.';
COMMENT ON COLUMN mart_lesson_attendance.late_5min IS 'Attendees with late_minutes >= 5.';
COMMENT ON COLUMN mart_lesson_attendance.early_leavers IS 'Attendees with leave_minutes > 0.';
COMMENT ON COLUMN mart_lesson_attendance.listen_minutes IS 'Sum of students'' listen_minutes.';
COMMENT ON COLUMN mart_lesson_attendance.avg_listen_share IS 'Mean listen_share over attendees, finished lessons only.';
COMMENT ON COLUMN mart_lesson_attendance.teacher_late_minutes IS 'Teacher''s late minutes (API 34 u_late); NULL without teacher attendance.';
COMMENT ON COLUMN mart_lesson_attendance.teacher_punctual IS 'teacher_late_minutes = 0 for finished lessons; NULL if not finished or no teacher attendance.';
