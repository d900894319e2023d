-- mart_help_requests_class_week: help requests (API 16) per class, ISO week and help type.
-- key: class_id, week_start, help_type?
-- incremental: week

CREATE TABLE mart_help_requests_class_week AS
SELECT
    l.class_id,
    any_value(c.class_name) AS class_name,
    any_value(c.subject) AS subject,
    d.week_start,
    strftime(d.week_start, '%G-W%V') AS iso_week_label,
    h.help_type,
    count(*) AS requests,
    count(DISTINCT h.user_id) AS students,
    count(DISTINCT h.lesson_id) AS lessons,
    min(h.help_time) AS first_request,
    max(h.help_time) AS last_request
FROM fct_help_requests AS h
JOIN dim_lesson AS l USING (lesson_id)
JOIN dim_date AS d ON d.date = h.lesson_date
LEFT JOIN dim_classroom AS c ON c.class_id = l.class_id
WHERE l.class_id IS NOT NULL
GROUP BY l.class_id, d.week_start, h.help_type
ORDER BY l.class_id, d.week_start, h.help_type;

COMMENT ON TABLE mart_help_requests_class_week IS 'Help requests (API 16) per class, ISO week and help type. Requests for lessons whose class is unknown are left out.';
COMMENT ON COLUMN mart_help_requests_class_week.class_id IS 'Class id.';
COMMENT ON COLUMN mart_help_requests_class_week.class_name IS 'Class name.';
COMMENT ON COLUMN mart_help_requests_class_week.subject IS 'Subject from the roster''s courses.';
COMMENT ON COLUMN mart_help_requests_class_week.week_start IS 'Monday of the ISO week of the request''s lesson_date.';
COMMENT ON COLUMN mart_help_requests_class_week.iso_week_label IS 'ISO week as text, e.g. 2026-W48.';
COMMENT ON COLUMN mart_help_requests_class_week.help_type IS 'Help type as the platform gives it (API 16 help_type); NULL when the platform gives none.';
COMMENT ON COLUMN mart_help_requests_class_week.requests IS 'Help requests.';
COMMENT ON COLUMN mart_help_requests_class_week.students IS 'Distinct students who asked.';
COMMENT ON COLUMN mart_help_requests_class_week.lessons IS 'Distinct lessons with a request.';
COMMENT ON COLUMN mart_help_requests_class_week.first_request IS 'Earliest request time, Beijing wall time.';
COMMENT ON COLUMN mart_help_requests_class_week.last_request IS 'Latest request time, Beijing wall time.';
