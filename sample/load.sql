-- Sample runs for `make run` (placeholder until the generator lands).
SELECT 1;
