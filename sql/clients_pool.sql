-- One pooled backend serving two accounts (issue 12). A connection pool logs in
-- once and switches roles per request (SET ROLE / RESET ROLE, DISCARD ALL
-- between clients); the extension's per-backend caches (accounts, span types,
-- revisions, points) must never hand one account's answers to the other's
-- role. Each check asks about the other account and must get nothing
-- ('hidden': NULL, nothing, or refused), while the same questions about the
-- role's own account are answered.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
DROP TABLE IF EXISTS public.regress_cp_probes;
DROP ROLE IF EXISTS regress_cp_pool, regress_cp_a, regress_cp_b;
CREATE EXTENSION prefactor;
RESET client_min_messages;
\set VERBOSITY terse
\set SHOW_CONTEXT never
SELECT current_user AS superuser \gset
SET search_path = prefactor, public;

------------------------------------------------------------------------------
-- Set-up as superuser: accounts pool_a and pool_b of the same shape, scored
-- differently (a lookup span is worth 2 points in A, 9 in B; a score of 10 is
-- low in A, medium in B). regress_cp_a has ingest in A only, regress_cp_b in
-- B only; the pool's login role has no account and may SET ROLE to both.
------------------------------------------------------------------------------
\set pw 'regress_clients_unused'
\getenv pw PGPASSWORD
CREATE ROLE regress_cp_a LOGIN PASSWORD :'pw';
CREATE ROLE regress_cp_b LOGIN PASSWORD :'pw';
CREATE ROLE regress_cp_pool LOGIN NOINHERIT PASSWORD :'pw';
GRANT regress_cp_a, regress_cp_b TO regress_cp_pool;
CREATE FUNCTION pg_temp.populate(account text, weight int, medium int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	run prefactor.pfid;
BEGIN
	PERFORM prefactor.prefactor_create_account(account);
	PERFORM prefactor.prefactor_create_environment(account, 'production');
	PERFORM prefactor.prefactor_create_risk_profile(account, 'profile',
		category_weights => jsonb_build_object('personal_identifiers', weight), action_multipliers => '{"read_data": 1}',
		medium_threshold => medium, high_threshold => 50, critical_threshold => 100);
	PERFORM prefactor.prefactor_register_agent(account, 'bot', risk_profile => 'profile');
	run := prefactor.prefactor_start_run(account, 'bot', 'production', '{"external_identifier": "v1"}',
		'{"span_type_schemas": [{"name": "lookup", "params_schema": {"type": "object"},
		  "data_risk": {"action_profile": {"read_data": "allowed"}, "params_data_categories": {"personal_identifiers": "included"}}}]}');
	PERFORM prefactor.prefactor_record_span(run, 'lookup', '{}');
	PERFORM prefactor.prefactor_record_span(run, 'lookup', '{}');
END
$$;
SELECT pg_temp.populate('pool_a', 2, 20), pg_temp.populate('pool_b', 9, 5);
SELECT prefactor_grant_access('pool_a', 'regress_cp_a', 'ingest');
SELECT prefactor_grant_access('pool_b', 'regress_cp_b', 'ingest');

-- The questions, about each account: its run, span type and revision by id.
CREATE TABLE public.regress_cp_probes (about text, n int, what text, stmt text);
GRANT SELECT ON public.regress_cp_probes TO PUBLIC;
INSERT INTO public.regress_cp_probes
SELECT a.name, q.n, q.what, format(q.stmt, a.name, a.account_id, i.id, t.id, i.risk_profile_revision_id)
  FROM accounts a
  JOIN instances i ON i.account_id = a.account_id
  JOIN span_types t ON t.account_id = a.account_id
 CROSS JOIN (VALUES
	(1, 'account_of(run)', $$SELECT account_of(%3$L)::text$$),
	(2, 'risk_type_points(span type, revision)', $$SELECT risk_type_points(%4$L, %5$L)::text$$),
	(3, 'risk_score over two spans', $$SELECT risk_score(t, r)::text FROM (VALUES (%4$L::pfid, %5$L::pfid), (%4$L, %5$L)) v(t, r)$$),
	-- the breakdown's total (0 counts as nothing) and the name of its span type (its id counts as nothing)
	(4, 'risk_breakdown over two spans', $$SELECT nullif(concat_ws(' ', nullif(b ->> 'total', '0'), nullif(b -> 'types' -> 0 ->> 'span_type', %4$L)), '')
		FROM (SELECT risk_breakdown(t, r) b FROM (VALUES (%4$L::pfid, %5$L::pfid), (%4$L, %5$L)) v(t, r)) x$$),
	(5, 'prefactor_risk_level(10, revision)', $$SELECT prefactor_risk_level(10, %5$L)::text$$),
	(6, 'its span types', $$SELECT count(*)::text FROM span_types WHERE account_id = %2$L$$),
	(7, 'its revision', $$SELECT count(*)::text FROM risk_profile_revisions WHERE id = %5$L$$),
	(8, 'spans of the run', $$SELECT count(*)::text FROM spans WHERE instance_id = %3$L$$),
	(9, 'span_risk of the run', $$SELECT sum(points)::text FROM span_risk WHERE instance_id = %3$L$$),
	(10, 'instance_summary of the run', $$SELECT risk_score::text FROM instance_summary WHERE instance_id = %3$L$$),
	(11, 'prefactor_span_timeline(run)', $$SELECT count(*)::text FROM prefactor_span_timeline(%3$L)$$),
	(12, 'prefactor_start_run(account name)', $$SELECT prefactor_start_run(%1$L, 'bot', 'production', NULL, NULL)::text$$),
	(13, 'prefactor_record_span(run)', $$SELECT (prefactor_record_span(%3$L, 'lookup', '{}')).span_id::text$$)
 ) q(n, what, stmt);
SELECT about, count(*) AS probes FROM public.regress_cp_probes GROUP BY about ORDER BY about;
-- The queries below: every probe about an account, answered, or only whether it stays hidden.
\set answers 'SELECT what, pg_temp.outcome(stmt) AS answer FROM public.regress_cp_probes WHERE about = '
\set hidden 'SELECT what, pg_temp.hidden(stmt) AS answer FROM public.regress_cp_probes WHERE about = '

------------------------------------------------------------------------------
-- The pool's backend: A's role, B's role, A's again, interleaved.
------------------------------------------------------------------------------
\c - regress_cp_pool
SET search_path = prefactor, public;
\i test/regress_helpers.sql
\i sql/clients_helpers.sql
SET ROLE regress_cp_a;
-- A's first request on this backend: its own account is answered...
:answers 'pool_a' ORDER BY n;
-- ...and B's stays hidden.
:hidden 'pool_b' ORDER BY n;
RESET ROLE;
-- B's request fills the caches with B's answers.
SET ROLE regress_cp_b;
:answers 'pool_b' ORDER BY n;
:hidden 'pool_a' ORDER BY n;
RESET ROLE;
-- A again, on caches B just filled: B stays hidden.
SET ROLE regress_cp_a;
:hidden 'pool_b' ORDER BY n;
-- and B again after A
RESET ROLE;
SET ROLE regress_cp_b;
:hidden 'pool_a' ORDER BY n;

-- Between two clients the pool runs DISCARD ALL (which also resets the role and
-- drops the helpers); A's next request still sees nothing of B.
DISCARD ALL;
SELECT current_user = 'regress_cp_pool' AS role_reset;
SET search_path = prefactor, public;
\i test/regress_helpers.sql
\i sql/clients_helpers.sql
SET ROLE regress_cp_a;
:hidden 'pool_b' ORDER BY n;
:answers 'pool_a' ORDER BY n;
RESET ROLE;

------------------------------------------------------------------------------
-- A superuser reads B's risk data, then the same backend acts as A's member
-- (an administration tool or a pool connected as a superuser).
------------------------------------------------------------------------------
\c - :superuser
SET search_path = prefactor, public;
\i test/regress_helpers.sql
\i sql/clients_helpers.sql
:answers 'pool_b' AND n <= 11 ORDER BY n;
SET ROLE regress_cp_a;
:hidden 'pool_b' ORDER BY n;
RESET ROLE;
-- SET SESSION AUTHORIZATION, the other way a superuser's connection acts as a role.
SET SESSION AUTHORIZATION regress_cp_a;
:hidden 'pool_b' ORDER BY n;
RESET SESSION AUTHORIZATION;

-- Nothing the probes did remains: both runs still have their two spans.
SELECT a.name, count(s.*) AS spans, count(s.risk_profile_revision_id) AS scored
  FROM accounts a LEFT JOIN spans s ON s.account_id = a.account_id GROUP BY a.name ORDER BY a.name;

SET client_min_messages = warning;
DROP TABLE public.regress_cp_probes;
DROP EXTENSION prefactor CASCADE;
DROP ROLE regress_cp_pool, regress_cp_a, regress_cp_b;
CREATE EXTENSION prefactor;
