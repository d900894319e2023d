-- dim_lesson: one row per lesson of the lake's lessons table (APIs 17/18/19/30),
-- with the teacher id from the teacher attendance (API 34).
-- key: lesson_id
-- incremental: full
-- mirrors: lessons
-- watch: *

CREATE TABLE dim_lesson AS
WITH l AS (
    SELECT * FROM stg_lessons
    QUALIFY row_number() OVER (PARTITION BY lesson_id ORDER BY lesson_date DESC) = 1
),
ti AS (
    SELECT lesson_id, teacher_id FROM stg_teacher_inout
    QUALIFY row_number() OVER (PARTITION BY lesson_id ORDER BY lesson_date DESC, teacher_id) = 1
),
name_map AS (
    -- teacher names that belong to exactly one teacher id across the whole lake
    SELECT l.teacher_name, min(ti.teacher_id) AS teacher_id
    FROM l JOIN ti USING (lesson_id)
    WHERE l.teacher_name IS NOT NULL
    GROUP BY l.teacher_name
    HAVING count(DISTINCT ti.teacher_id) = 1
)
SELECT
    l.lesson_id,
    l.lesson_date,
    l.class_id,
    l.class_name,
    coalesce(ti.teacher_id, nm.teacher_id) AS teacher_id,
    CASE WHEN ti.teacher_id IS NOT NULL THEN 'teacher_inout'
         WHEN nm.teacher_id IS NOT NULL THEN 'teacher_name' END AS teacher_id_source,
    l.teacher_name,
    l.status,
    CASE l.status WHEN 0 THEN 'not started' WHEN 1 THEN 'in class'
                  WHEN 2 THEN 'finished' WHEN 3 THEN 'expired' ELSE 'unknown' END AS status_label,
    d.week_start,
    d.month_start,
    d.term,
    d.weekday,
    CAST(hour(l.scheduled_start) AS TINYINT) AS start_hour,
    l.scheduled_start,
    l.scheduled_end,
    timezone(getvariable('time_zone'), l.scheduled_start) AS scheduled_start_utc,
    CAST(ceil((epoch(l.scheduled_end) - epoch(l.scheduled_start)) / 60.0) AS INTEGER) AS scheduled_minutes,
    l.actual_start,
    l.actual_end,
    l.replay_url
FROM l
LEFT JOIN dim_date AS d ON d.date = l.lesson_date
LEFT JOIN ti USING (lesson_id)
LEFT JOIN name_map AS nm ON ti.teacher_id IS NULL AND nm.teacher_name = l.teacher_name
ORDER BY l.lesson_id;

COMMENT ON TABLE dim_lesson IS 'One row per lesson (课节) seen in the lake, keyed by lesson_id.';
COMMENT ON COLUMN dim_lesson.lesson_id IS 'Platform lesson id (key).';
COMMENT ON COLUMN dim_lesson.lesson_date IS 'Date of the scheduled start (Asia/Shanghai); the lake partition the lesson was extracted in.';
COMMENT ON COLUMN dim_lesson.class_id IS 'Class (班级) id from API 30; NULL if unknown.';
COMMENT ON COLUMN dim_lesson.class_name IS 'Class name from API 30.';
COMMENT ON COLUMN dim_lesson.teacher_id IS 'Teacher user id: from the teacher attendance (API 34); when the lesson has none, from the teacher name if that name maps to exactly one teacher id elsewhere in the lake; else NULL.';
COMMENT ON COLUMN dim_lesson.teacher_id_source IS 'Where teacher_id came from: teacher_inout (API 34), teacher_name (unique-name fallback) or NULL.';
COMMENT ON COLUMN dim_lesson.teacher_name IS 'Teacher name from API 19.';
COMMENT ON COLUMN dim_lesson.status IS 'Lesson status (API 29 codes): 0 not started, 1 in class, 2 finished, 3 expired.';
COMMENT ON COLUMN dim_lesson.status_label IS 'Status in words: not started, in class, finished, expired.';
COMMENT ON COLUMN dim_lesson.week_start IS 'Monday of the lesson''s ISO week (dim_date.week_start).';
COMMENT ON COLUMN dim_lesson.month_start IS 'First day of the lesson''s month.';
COMMENT ON COLUMN dim_lesson.term IS 'Term of the lesson date, e.g. 2026秋 (dim_date.term).';
COMMENT ON COLUMN dim_lesson.weekday IS 'ISO weekday of the lesson date, 1 Monday .. 7 Sunday.';
COMMENT ON COLUMN dim_lesson.start_hour IS 'Hour 0..23 of the scheduled start, Beijing wall time.';
COMMENT ON COLUMN dim_lesson.scheduled_start IS 'Scheduled start (API 19 start_time), Beijing wall time (TIMESTAMP without zone).';
COMMENT ON COLUMN dim_lesson.scheduled_end IS 'Scheduled end (API 19 end_time, ends in :59), Beijing wall time.';
COMMENT ON COLUMN dim_lesson.scheduled_start_utc IS 'The scheduled start as an absolute instant (TIMESTAMP WITH TIME ZONE), for joining with systems that keep UTC.';
COMMENT ON COLUMN dim_lesson.scheduled_minutes IS 'Scheduled duration in minutes: ceil((scheduled_end - scheduled_start) seconds / 60), so 18:00:00-18:45:59 is 46.';
COMMENT ON COLUMN dim_lesson.actual_start IS 'Actual start (class started), Beijing wall time; NULL if never started.';
COMMENT ON COLUMN dim_lesson.actual_end IS 'Actual end, Beijing wall time; NULL if not finished.';
COMMENT ON COLUMN dim_lesson.replay_url IS 'Monitoring replay URL (API 18 video), as returned (no scheme).';
