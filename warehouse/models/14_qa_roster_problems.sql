-- qa_roster_problems: one row per problem found in the school's roster files (unknown or
-- duplicate mobile, missing name, wrong encoding ...), as the roster step reported them.
-- Mobiles are masked (138****5678) before they reach the lake.
-- key: file, row_in_file?, column_name?, problem
-- incremental: full

CREATE TABLE qa_roster_problems AS
SELECT file, "row" AS row_in_file, "column" AS column_name, problem, message
FROM stg_roster_problems
QUALIFY row_number() OVER (PARTITION BY file, "row", "column", problem ORDER BY message) = 1
ORDER BY file, row_in_file NULLS FIRST, column_name, problem;

COMMENT ON TABLE qa_roster_problems IS 'Problems found in the roster files (docs/roster.md), one per file row and kind; the rows they concern got no name. Empty without a roster or when it is clean.';
COMMENT ON COLUMN qa_roster_problems.file IS 'File name in the roster folder, e.g. students.csv.';
COMMENT ON COLUMN qa_roster_problems.row_in_file IS 'Row as a spreadsheet shows it (the header is row 1); NULL for a problem of the whole file.';
COMMENT ON COLUMN qa_roster_problems.column_name IS 'Column header concerned; NULL when none.';
COMMENT ON COLUMN qa_roster_problems.problem IS 'Kind: unknown_mobile, duplicate_mobile, invalid_mobile, missing_name, missing_column, not_utf8, ...';
COMMENT ON COLUMN qa_roster_problems.message IS 'The one line shown to the user (mobiles masked).';
