-- Writes the pgbench script of the baseline: the rows one OTLP request stored
-- (the latest finished OTLP run: 100 spans), recorded by calling the SQL API
-- directly, one call per row as a client would: prefactor_start_run, then
-- prefactor_record_span per span, parents first (the client knows its
-- parents' ids), with the same span types, payloads, results, statuses and
-- times, then prefactor_finish_run.
SET search_path = public, prefactor;
\pset format unaligned
\pset tuples_only on
WITH run AS (
	SELECT i.* FROM prefactor.instances i JOIN prefactor.otlp_traces o ON o.account_id = i.account_id AND o.instance_id = i.id
	 WHERE i.status <> 'active' ORDER BY i.registered_at DESC LIMIT 1
), spans AS (
	SELECT t.ordinal, t.depth, s.* FROM run, prefactor.prefactor_span_timeline(run.id) t
	  JOIN prefactor.spans s ON s.id = t.span_id
), numbered AS (
	SELECT row_number() OVER (ORDER BY depth, ordinal) AS n, s.* FROM spans s
)
SELECT format('SELECT prefactor.prefactor_start_run(''bench'', ''bench-bot'', ''production'', ''{"external_identifier": "1.0.0"}'', NULL, started_at => %L) AS run \gset', run.started_at)
  FROM run
UNION ALL
SELECT * FROM (
	SELECT format('SELECT span_id AS s%s FROM prefactor.prefactor_record_span('':run'', %L, %L, %L, %L, %s, %L, %L) \gset',
				  n.n, n.span_type, n.payload, n.result, n.status,
				  coalesce((SELECT format(''':s%s''', p.n) FROM numbered p WHERE p.id = n.parent_span_id), 'NULL'),
				  n.started_at, n.finished_at)
	  FROM numbered n ORDER BY n.n) x
UNION ALL
SELECT format('SELECT prefactor.prefactor_finish_run('':run'', %L, %L);', run.status, run.finished_at) FROM run;
