-- dim_date: one row per calendar day from the first to the last lesson day in the lake, with the
-- periods analysts group by. Built from stg_calendar, which warehouse/build.py fills from
-- pipeline.core.calendar (the one home of the term rule).
-- key: date
-- incremental: full
-- watch: *

CREATE TABLE dim_date AS
SELECT
    date,
    iso_year,
    iso_week,
    printf('%d-W%02d', iso_year, iso_week) AS iso_week_label,
    week_start,
    CAST(week_start + INTERVAL 6 DAY AS DATE) AS week_end,
    month_start,
    strftime(month_start, '%Y-%m') AS month_label,
    term,
    term_season,
    term_start,
    term_end,
    weekday,
    weekday_name,
    weekday >= 6 AS is_weekend
FROM stg_calendar
ORDER BY date;

COMMENT ON TABLE dim_date IS 'One row per calendar day from the first to the last lesson day in the lake: ISO week, month, term and weekday of the day (Beijing calendar).';
COMMENT ON COLUMN dim_date.date IS 'The day (key); joins lesson_date of every table.';
COMMENT ON COLUMN dim_date.iso_year IS 'ISO-8601 year of the day''s week (differs from the calendar year in the first/last days of a year).';
COMMENT ON COLUMN dim_date.iso_week IS 'ISO-8601 week number 1..53 (weeks start on Monday).';
COMMENT ON COLUMN dim_date.iso_week_label IS 'ISO week as text, e.g. 2026-W48.';
COMMENT ON COLUMN dim_date.week_start IS 'Monday of the day''s ISO week: the week key of the *_week marts.';
COMMENT ON COLUMN dim_date.week_end IS 'Sunday of the day''s ISO week.';
COMMENT ON COLUMN dim_date.month_start IS 'First day of the calendar month: the month key of the *_month marts.';
COMMENT ON COLUMN dim_date.month_label IS 'Month as text, e.g. 2026-11.';
COMMENT ON COLUMN dim_date.term IS 'Term of the day, e.g. 2026秋: 寒 winter Jan-Feb, 春 spring Mar-Jun, 暑 summer Jul-Aug, 秋 autumn Sep-Dec (docs/definitions.md).';
COMMENT ON COLUMN dim_date.term_season IS 'Season of the term: winter, spring, summer or autumn.';
COMMENT ON COLUMN dim_date.term_start IS 'First day of the term.';
COMMENT ON COLUMN dim_date.term_end IS 'Last day of the term.';
COMMENT ON COLUMN dim_date.weekday IS 'ISO weekday 1 (Monday) .. 7 (Sunday).';
COMMENT ON COLUMN dim_date.weekday_name IS 'Weekday in Chinese: 周一 .. 周日.';
COMMENT ON COLUMN dim_date.is_weekend IS 'Saturday or Sunday.';
