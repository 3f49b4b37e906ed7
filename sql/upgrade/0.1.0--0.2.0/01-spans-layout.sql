------------------------------------------------------------------------------
-- Upgrade 0.1.0 -> 0.2.0: the hand-written steps, which run first. The
-- Makefile follows them with the replay of sql/install/, which creates or
-- replaces everything else (new tables and types, indexes, triggers,
-- functions, views, comments, row-level security, privileges); these steps
-- do what a replay cannot: change the tables 0.1.0 made.
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- The shape of spans (sql/install/21-spans.sql). 0.2.0 gives a span the ids
-- the risk aggregates read on every row (span_type_id,
-- risk_profile_revision_id), live scoring's running total and the parent
-- reference of OTLP. ALTER TABLE ... ADD COLUMN would put them after the
-- variable-length payload, result, errors and names, and every row an
-- aggregate reads would be deformed through all of them (about 40% of a
-- risk_score over a million spans). The table is rebuilt once, here, with the
-- fixed-width columns first and the large jsonb values last.
------------------------------------------------------------------------------

-- The only object of 0.1.0 built on the row type; the replay makes it again.
DROP FUNCTION duration(spans);

-- Move the 0.1.0 table and its relation names out of the way.
ALTER TABLE spans RENAME TO spans_0_1_0;
ALTER INDEX spans_pkey RENAME TO spans_0_1_0_pkey;
ALTER INDEX spans_account_id_instance_id_id_key RENAME TO spans_0_1_0_instance_key;
ALTER INDEX spans_instance_started RENAME TO spans_0_1_0_instance_started;
ALTER INDEX spans_parent RENAME TO spans_0_1_0_parent;

-- The columns of 0.2.0 in their order; the row rules (names, statuses, times,
-- partitions) move from CHECK constraints into the span guard trigger.
CREATE TABLE spans (
	account_id		pfid NOT NULL,
	id				pfid NOT NULL,
	span_type_id	pfid,
	risk_profile_revision_id pfid,
	instance_id		pfid NOT NULL,
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
	result_errors	jsonb,
	parent_ref		text
)
WITH (fillfactor = 70);		-- room for a span's finish on its page (sql/install/21-spans.sql)
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

-- Keys after the copy: each is built (and checked) in one pass; so are the
-- indexes, which the replay creates.
ALTER TABLE spans
	ADD PRIMARY KEY (account_id, id),
	ADD UNIQUE (account_id, instance_id, id),
	ADD FOREIGN KEY (account_id, instance_id) REFERENCES instances,
	-- a parent span must belong to the same instance
	ADD FOREIGN KEY (account_id, instance_id, parent_span_id) REFERENCES spans (account_id, instance_id, id),
	ADD CONSTRAINT spans_span_type_fkey FOREIGN KEY (account_id, span_type_id) REFERENCES span_types;
