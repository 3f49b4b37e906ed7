------------------------------------------------------------------------------
-- The shape of spans. 0.2.0 gives a span the ids the risk aggregates read on
-- every row (span_type_id, risk_profile_revision_id) and live scoring's
-- running total. ALTER TABLE ... ADD COLUMN would put them after the
-- variable-length payload, result, errors and names, and every row an
-- aggregate reads would be deformed through all of them (about 40% of a
-- risk_score over a million spans). The table is rebuilt once, here, with
-- the fixed-width columns first and the large jsonb values last. A fresh
-- install runs this on an empty table.
------------------------------------------------------------------------------

-- The only object of 0.1.0 built on the row type; re-created below.
DROP FUNCTION duration(spans);

-- Move the 0.1.0 table and its relation names out of the way.
ALTER TABLE spans RENAME TO spans_0_1_0;
ALTER INDEX spans_pkey RENAME TO spans_0_1_0_pkey;
ALTER INDEX spans_account_id_instance_id_id_key RENAME TO spans_0_1_0_instance_key;
ALTER INDEX spans_instance_started RENAME TO spans_0_1_0_instance_started;
ALTER INDEX spans_parent RENAME TO spans_0_1_0_parent;

-- The row rules (names, statuses, times, partitions) are judged by the span
-- guard trigger (10-lifecycle.sql), not by CHECK constraints.
CREATE TABLE spans (
	account_id		pfid NOT NULL,
	id				pfid NOT NULL,
	instance_id		pfid NOT NULL,
	span_type_id	pfid,
	risk_profile_revision_id pfid,
	parent_span_id	pfid,
	started_at		timestamptz NOT NULL DEFAULT now(),
	finished_at		timestamptz,
	payload_conforms boolean,
	result_conforms	boolean,
	raised_run_risk	boolean,
	span_type		text NOT NULL,
	status			text NOT NULL DEFAULT 'active',
	validation		text,
	risk_total		numeric,
	payload			jsonb NOT NULL DEFAULT '{}',
	result			jsonb,
	payload_errors	jsonb,
	result_errors	jsonb
)
-- A span is mostly stored open and written once more when it finishes, with
-- its result: the room left on each page keeps that update on the page (a
-- HOT update), so a finish adds no entry to any of the table's indexes.
WITH (fillfactor = 80);
INSERT INTO spans (account_id, id, instance_id, parent_span_id, started_at, finished_at,
				   payload_conforms, result_conforms, span_type, status, validation,
				   payload, result, payload_errors, result_errors)
SELECT account_id, id, instance_id, parent_span_id, started_at, finished_at,
	   payload_conforms, result_conforms, span_type, status, validation,
	   payload, result, payload_errors, result_errors
  FROM spans_0_1_0;
-- Leaving the extension first also drops the table from pg_dump's list of
-- configuration tables (pg_extension.extconfig), where it would stay behind.
ALTER EXTENSION prefactor DROP TABLE spans_0_1_0;
DROP TABLE spans_0_1_0;

-- Keys and indexes after the copy: each is built (and checked) in one pass.
ALTER TABLE spans
	ADD PRIMARY KEY (account_id, id),
	ADD UNIQUE (account_id, instance_id, id),
	ADD FOREIGN KEY (account_id, instance_id) REFERENCES instances,
	-- a parent span must belong to the same instance
	ADD FOREIGN KEY (account_id, instance_id, parent_span_id) REFERENCES spans (account_id, instance_id, id),
	ADD CONSTRAINT spans_span_type_fkey FOREIGN KEY (account_id, span_type_id) REFERENCES span_types;
CREATE INDEX spans_instance_started ON spans (account_id, instance_id, started_at);
CREATE INDEX spans_parent ON spans (account_id, parent_span_id) WHERE parent_span_id IS NOT NULL;
CREATE TRIGGER assign_id BEFORE INSERT ON spans FOR EACH ROW EXECUTE FUNCTION assign_id();
SELECT pg_catalog.pg_extension_config_dump('spans', '');
COMMENT ON TABLE spans IS
	'One per agent step: type, payload, result, times, status, parent, and whether it matched its declared shape';

-- Durations are derived from the stored times, never stored twice.
CREATE FUNCTION duration(spans) RETURNS interval
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN $1.finished_at - $1.started_at;
COMMENT ON FUNCTION duration(spans) IS 'Span duration (finished_at - started_at); null while running';
