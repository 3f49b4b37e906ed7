-- Bench set-up: an account, an environment, an agent with a risk profile and a
-- realistic schema whose span type scores (validation on, live scoring on),
-- and baseline tables with the same columns and storage parameters as
-- instances and spans but no triggers, functions, foreign keys or checks.
CREATE EXTENSION IF NOT EXISTS prefactor;
SELECT prefactor.prefactor_create_account('bench');
SELECT prefactor.prefactor_create_environment('bench', 'production');
-- governed ingest: the agent has a risk profile and its span type scores
SELECT prefactor.prefactor_create_risk_profile('bench', 'governed');
SELECT prefactor.prefactor_register_agent('bench', 'bench-bot', risk_profile => 'governed');

DROP TABLE IF EXISTS baseline_instances, baseline_spans;
CREATE TABLE baseline_instances (LIKE prefactor.instances INCLUDING DEFAULTS);
ALTER TABLE baseline_instances ADD PRIMARY KEY (account_id, id);
CREATE INDEX ON baseline_instances (account_id, agent_id, environment_id, started_at);
CREATE TABLE baseline_spans (LIKE prefactor.spans INCLUDING DEFAULTS);
ALTER TABLE baseline_spans ADD PRIMARY KEY (account_id, id);
CREATE INDEX ON baseline_spans (account_id, instance_id, started_at);
CREATE INDEX ON baseline_spans (account_id, parent_span_id) WHERE parent_span_id IS NOT NULL;
-- copies keep the originals' storage parameters (spans' fillfactor)
DO $$
DECLARE
	t record;
BEGIN
	FOR t IN SELECT c.relname, c.reloptions FROM pg_class c
			  WHERE c.relnamespace = 'prefactor'::regnamespace AND c.relname IN ('instances', 'spans')
				AND c.reloptions IS NOT NULL LOOP
		EXECUTE format('ALTER TABLE %I SET (%s)', 'baseline_' || t.relname, array_to_string(t.reloptions, ', '));
	END LOOP;
END
$$;
