------------------------------------------------------------------------------
-- Spans: one per agent step. The span calls (C) and plain INSERT/UPDATE/COPY
-- go through the same guard triggers, so both paths apply the same checks:
-- spans are written only into active runs, validated against their declared
-- span type, scored live, and never changed once finished.
------------------------------------------------------------------------------

CREATE TYPE span_ack AS (span_id pfid, terminate boolean, reason text);
COMMENT ON TYPE span_ack IS
	'Answer of the span functions: the span id and the control signal (terminate the run?, why)';

-- Spans are written only into active runs (row locked), conformance is
-- left to the validator, and the declared span type is resolved (C, src/guard/span_guard.c).
CREATE OR REPLACE FUNCTION spans_before_insert() RETURNS trigger
	AS 'MODULE_PATHNAME', 'prefactor_spans_before_insert' LANGUAGE C;
COMMENT ON FUNCTION spans_before_insert() IS
	'BEFORE INSERT on spans: only active runs take spans; sets span_type_id from the run''s schema version';

-- A span changes once, from unfinished to finished; what it was stays.
CREATE OR REPLACE FUNCTION spans_before_update() RETURNS trigger
	AS 'MODULE_PATHNAME', 'prefactor_spans_before_update' LANGUAGE C;
COMMENT ON FUNCTION spans_before_update() IS
	'BEFORE UPDATE on spans: only an unfinished span changes, and only its status, result and finish time';

-- The shape of spans. The ids the risk aggregates read on every row
-- (span_type_id, risk_profile_revision_id) and the other fixed-width columns
-- come first, the large jsonb values last: an aggregate deforms each row up to
-- the columns it reads, and deforming through the variable-length payload,
-- result, errors and names cost about 40% of a risk_score over a million
-- spans. The two ids stand before instance_id, so that grouping by run
-- (GROUP BY instance_id) deforms them in the same pass: after it, PostgreSQL
-- deformed the row a second time for the aggregate's arguments (about 140
-- instructions a row, a tenth of a risk_score). (0.2.0 rebuilt the 0.1.0 table into this order:
-- sql/upgrade/0.1.0--0.2.0/01-spans-layout.sql; parent_ref, which came later
-- in 0.2.0, stands last.)
--
-- The row rules (names, statuses, times, partitions) are judged by the span
-- guard trigger (src/guard/span_guard.c), not by CHECK constraints, for the
-- reason given at instances (20-runs.sql): every span call is a statement of
-- its own, and the seven checks of a span cost more than the rest of its own
-- columns.
--
-- span_type_id: the span type the run's schema version declares under the
-- span's name (NULL: undeclared), resolved by the guard.
-- risk_profile_revision_id: the revision the run is scored under, so that the
-- aggregates score any set of spans without a join; a copy of
-- instances.risk_profile_revision_id (which has the foreign key), set by the
-- span guard from the run row it locks, whatever was given.
-- risk_total, raised_run_risk: live scoring (the span guard,
-- src/risk/risk_live.c) keeps the run's running total on its spans: a span
-- costs its own row and index entries, and the run row is written only when
-- a span raises the run's level or classification, and when the run finishes.
-- parent_ref: a span may arrive before its parent (OTLP): it keeps the
-- client's id of the parent until that arrives, and the span guard lets that
-- one link be made later.
CREATE TABLE IF NOT EXISTS spans (
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
	parent_ref		text,
	PRIMARY KEY (account_id, id),
	UNIQUE (account_id, instance_id, id),
	FOREIGN KEY (account_id, instance_id) REFERENCES instances,
	-- a parent span must belong to the same instance
	FOREIGN KEY (account_id, instance_id, parent_span_id) REFERENCES spans (account_id, instance_id, id),
	CONSTRAINT spans_span_type_fkey FOREIGN KEY (account_id, span_type_id) REFERENCES span_types
)
-- A span is mostly stored open and written once more when it finishes, with
-- its result: the room left on each page keeps that update on the page (a
-- HOT update), so a finish adds no entry to any of the table's indexes. The
-- finished version holds payload and result, often twice the open row, and
-- needs that room while the open version still stands beside it: with 20%
-- left, a third of the finishes of concurrent runs with ~1 KB payloads and
-- results left the page (bench/lifecycle); with 30%, almost none.
WITH (fillfactor = 70);
COMMENT ON TABLE spans IS
	'One per agent step: type, payload, result, times, status, parent, and whether it matched its declared shape';
COMMENT ON COLUMN spans.account_id IS 'The account the row belongs to; every reference is an (account_id, id) pair, so no row points across accounts';
COMMENT ON COLUMN spans.id IS 'Id: a pfid in its account''s partition';
COMMENT ON COLUMN spans.instance_id IS 'The run the span belongs to';
COMMENT ON COLUMN spans.span_type_id IS
	'The span type declared under span_type by the run''s schema version; NULL when undeclared';
COMMENT ON COLUMN spans.risk_profile_revision_id IS
	'The risk profile revision the span''s run is scored under (copied from the run on insert); NULL when the run has none';
COMMENT ON COLUMN spans.parent_span_id IS 'The enclosing span of the same run; NULL for a root span';
COMMENT ON COLUMN spans.started_at IS 'When the step started (the client''s time)';
COMMENT ON COLUMN spans.finished_at IS 'When it finished; NULL while open';
COMMENT ON COLUMN spans.payload_conforms IS 'Whether the payload matched the span type''s params schema';
COMMENT ON COLUMN spans.result_conforms IS 'Whether the result matched the span type''s result schema; NULL until there is a result';
COMMENT ON COLUMN spans.raised_run_risk IS
	'Whether this span raised its run''s risk level or data classification (the run row was updated with it); NULL when risk_total is';
COMMENT ON COLUMN spans.span_type IS 'The span type''s name as the client sent it';
COMMENT ON COLUMN spans.status IS 'pending, active (open), complete, failed or cancelled (finished)';
COMMENT ON COLUMN spans.validation IS
	'validated: checked against the span type''s schemas; undeclared: the run''s schema version has no such span type; schema_invalid: that type''s schema is malformed; limit_exceeded: a depth, $ref, regex or arithmetic limit stopped validation (no verdict; the reason is in payload_errors or result_errors); NULL: stored with prefactor.validate_spans off';
COMMENT ON COLUMN spans.risk_total IS
	'The run''s risk score after this span (live scoring, computed on insert); NULL for a span that adds no points and no classification, or of an unscored run';
COMMENT ON COLUMN spans.payload IS 'What the step received (validated against the span type''s params_schema)';
COMMENT ON COLUMN spans.result IS 'What the step produced (validated against its result_schema)';
COMMENT ON COLUMN spans.payload_errors IS 'Why the payload did not match: [{instance_location, keyword_location, message}]; NULL when it matched';
COMMENT ON COLUMN spans.result_errors IS 'Why the result did not match; NULL when it matched';
COMMENT ON COLUMN spans.parent_ref IS
	'The client''s id of a parent span not stored yet (OTLP: the parent''s span id); parent_span_id is set and this cleared when it arrives';
CREATE INDEX IF NOT EXISTS spans_instance_started ON spans (account_id, instance_id, started_at);
CREATE INDEX IF NOT EXISTS spans_parent ON spans (account_id, parent_span_id) WHERE parent_span_id IS NOT NULL;
-- The previous total of a run is the largest on its spans (totals only grow):
-- the last entry of the run's range (src/risk/risk_live.c). It is kept apart
-- from spans_instance_started: with the totals in that index, the views that
-- read a run's spans (instance_summary) took about twice as long.
CREATE INDEX IF NOT EXISTS spans_run_risk_total ON spans (account_id, instance_id, risk_total) WHERE risk_total IS NOT NULL;
COMMENT ON INDEX spans_run_risk_total IS
	'Serves live scoring: the running total of a run before its next span, and the total at its finish';
-- spans awaiting their parent (parent_ref), found when it arrives
CREATE INDEX IF NOT EXISTS spans_awaiting_parent ON spans (account_id, instance_id, parent_ref) WHERE parent_ref IS NOT NULL;
CREATE OR REPLACE TRIGGER assign_id BEFORE INSERT ON spans FOR EACH ROW EXECUTE FUNCTION assign_id();
CREATE OR REPLACE TRIGGER spans_10_guard BEFORE INSERT ON spans FOR EACH ROW EXECUTE FUNCTION spans_before_insert();
CREATE OR REPLACE TRIGGER spans_10_guard_update BEFORE UPDATE ON spans FOR EACH ROW EXECUTE FUNCTION spans_before_update();
CREATE OR REPLACE TRIGGER spans_10_guard_delete BEFORE DELETE ON spans FOR EACH ROW EXECUTE FUNCTION run_data_guard_delete();
CREATE OR REPLACE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON spans FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();
SELECT pg_catalog.pg_extension_config_dump('spans', '');
-- the ingest role records and finishes spans
SELECT prefactor.secure_table('spans', '{INSERT,UPDATE}', '{}');

-- Durations are derived from the stored times, never stored twice.
CREATE OR REPLACE FUNCTION duration(spans) RETURNS interval
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN $1.finished_at - $1.started_at;
COMMENT ON FUNCTION duration(spans) IS 'Span duration (finished_at - started_at); null while running';

------------------------------------------------------------------------------
-- The span API
------------------------------------------------------------------------------

-- The span calls are the hot path: C over backend caches (src/api/span_api.c).
-- They write their row through the table AM with its row triggers, constraints
-- and foreign keys (src/core/row_write.c), so the span triggers apply to them
-- exactly as to a plain INSERT/UPDATE or a bulk load.
CREATE OR REPLACE FUNCTION prefactor_start_span(instance pfid, span_type text, payload jsonb DEFAULT '{}',
									 parent_span pfid DEFAULT NULL, started_at timestamptz DEFAULT NULL,
									 idempotency_key text DEFAULT NULL)
	RETURNS span_ack
	AS 'MODULE_PATHNAME', 'prefactor_start_span' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION prefactor_start_span(pfid, text, jsonb, pfid, timestamptz, text) IS
	'Starts a span (status active) of the run; returns the span id and the control signal (terminate, reason). started_at NULL means now().';

CREATE OR REPLACE FUNCTION prefactor_record_span(instance pfid, span_type text, payload jsonb, result jsonb DEFAULT NULL,
									  status text DEFAULT 'complete', parent_span pfid DEFAULT NULL,
									  started_at timestamptz DEFAULT NULL, finished_at timestamptz DEFAULT NULL,
									  idempotency_key text DEFAULT NULL)
	RETURNS span_ack
	AS 'MODULE_PATHNAME', 'prefactor_record_span' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION prefactor_record_span(pfid, text, jsonb, jsonb, text, pfid, timestamptz, timestamptz, text) IS
	'Records a whole span in one call (default status complete); returns the span id and the control signal';

CREATE OR REPLACE FUNCTION prefactor_finish_span(span pfid, status text DEFAULT 'complete', result jsonb DEFAULT NULL,
									  finished_at timestamptz DEFAULT NULL, idempotency_key text DEFAULT NULL)
	RETURNS span_ack
	AS 'MODULE_PATHNAME', 'prefactor_finish_span' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION prefactor_finish_span(pfid, text, jsonb, timestamptz, text) IS
	'Finishes an active span with its status and result; returns the span id and the control signal. Finishing a finished span raises object_not_in_prerequisite_state unless retried with the same idempotency key.';
