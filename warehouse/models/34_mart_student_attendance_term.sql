-- mart_student_attendance_term: one row per student per term with finished lessons (status 2).
-- key: user_id, term
-- incremental: term

CREATE TABLE mart_student_attendance_term AS
SELECT
    a.user_id,
    any_value(s.display_name) AS student_name,
    a.term,
    min(d.term_start) AS term_start,
    max(d.term_end) AS term_end,
    count(*) AS lessons,
    count(*) FILTER (WHERE a.attended) AS attended,
    count(*) FILTER (WHERE NOT a.attended) AS absent,
    count(*) FILTER (WHERE a.is_late) AS late,
    count(*) FILTER (WHERE a.is_late_5min) AS late_5min,
    count(*) FILTER (WHERE a.is_early_leaver) AS early_leave,
    CAST(sum(a.listen_minutes) AS BIGINT) AS listen_minutes,
    count(*) FILTER (WHERE a.attended)::DOUBLE / count(*) AS attendance_rate
FROM fct_attendance AS a
LEFT JOIN dim_student AS s USING (user_id)
LEFT JOIN dim_date AS d ON d.date = a.lesson_date
WHERE a.lesson_status = 2
GROUP BY a.user_id, a.term
ORDER BY a.user_id, a.term;

COMMENT ON TABLE mart_student_attendance_term IS 'Per student per term: finished lessons (status 2) the student was enrolled in, attended, absent, late, early leaves. One grain: sum any column freely.';
COMMENT ON COLUMN mart_student_attendance_term.user_id IS 'Student user id.';
COMMENT ON COLUMN mart_student_attendance_term.student_name IS 'Name from the roster, else 学员 <user_id> (dim_student.display_name).';
COMMENT ON COLUMN mart_student_attendance_term.term IS 'Term, e.g. 2026秋 (dim_date.term).';
COMMENT ON COLUMN mart_student_attendance_term.term_start IS 'First day of the term.';
COMMENT ON COLUMN mart_student_attendance_term.term_end IS 'Last day of the term.';
COMMENT ON COLUMN mart_student_attendance_term.lessons IS 'Finished lessons the student was enrolled in.';
COMMENT ON COLUMN mart_student_attendance_term.attended IS 'Of those, lessons attended (listen_minutes > 0).';
COMMENT ON COLUMN mart_student_attendance_term.absent IS 'lessons - attended.';
COMMENT ON COLUMN mart_student_attendance_term.late IS 'Lessons attended late (late_minutes > 0).';
COMMENT ON COLUMN mart_student_attendance_term.late_5min IS 'Lessons attended 5 or more minutes late.';
COMMENT ON COLUMN mart_student_attendance_term.early_leave IS 'Lessons attended and left early (leave_minutes > 0).';
COMMENT ON COLUMN mart_student_attendance_term.listen_minutes IS 'Total listen minutes.';
COMMENT ON COLUMN mart_student_attendance_term.attendance_rate IS 'attended / lessons (0..1).';
