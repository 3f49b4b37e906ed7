-- The account boundary: group roles, memberships, row-level security on every
-- table and view, access checks in the API, and deployment-scoped ingest tokens.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
DROP ROLE IF EXISTS regress_a_admin, regress_a_ingest, regress_a_reader, regress_b_admin, regress_b_ingest,
	regress_b_reader, regress_ab_ingest, regress_mixed, regress_nobody, regress_nologin;
DROP SCHEMA IF EXISTS regress_evil CASCADE;
CREATE EXTENSION prefactor;
RESET client_min_messages;
SET search_path = prefactor, public;
\set VERBOSITY terse
\set SHOW_CONTEXT never

\i test/regress_helpers.sql
-- A statement's outcome as pg_temp.try gives it, but only the SQLSTATE of an error.
CREATE FUNCTION pg_temp.code(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r text := pg_temp.try(stmt);
BEGIN
	RETURN CASE WHEN r LIKE 'ok: %' THEN replace(r, ': ', ' ') ELSE split_part(r, ':', 1) END;
END
$$;

------------------------------------------------------------------------------
-- The catalog: every table, view and function follows the rules.
------------------------------------------------------------------------------
-- Every table: row-level security enabled and forced.
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c
 WHERE c.relnamespace = 'prefactor'::regnamespace AND c.relkind IN ('r', 'p')
   AND NOT (c.relrowsecurity AND c.relforcerowsecurity);
-- Every table with account_id has its read policy, and no policy holds a subquery.
SELECT c.relname FROM pg_class c
 WHERE c.relnamespace = 'prefactor'::regnamespace AND c.relkind IN ('r', 'p')
   AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polcmd IN ('r', '*'));
SELECT p.polname, p.polrelid::regclass FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
 WHERE c.relnamespace = 'prefactor'::regnamespace
   AND (coalesce(pg_get_expr(p.polqual, p.polrelid), '') ~* 'select'
		OR coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '') ~* 'select');
-- The policies, by table and command.
SELECT c.relname, string_agg(p.polname || '(' || p.polcmd::text || ')', ' ' ORDER BY p.polname) AS policies
  FROM pg_class c JOIN pg_policy p ON p.polrelid = c.oid
 WHERE c.relnamespace = 'prefactor'::regnamespace GROUP BY c.relname ORDER BY c.relname;
-- Table privileges of the group roles (PUBLIC has none).
SELECT c.relname,
	   string_agg(DISTINCT CASE WHEN a.grantee = 'prefactor_reader'::regrole THEN a.privilege_type END, ',') AS reader,
	   string_agg(DISTINCT CASE WHEN a.grantee = 'prefactor_ingest'::regrole THEN a.privilege_type END, ',') AS ingest,
	   string_agg(DISTINCT CASE WHEN a.grantee = 'prefactor_admin'::regrole THEN a.privilege_type END, ',') AS admin,
	   bool_or(a.grantee = 0) AS public
  FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
 WHERE c.relnamespace = 'prefactor'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
   AND a.grantee <> c.relowner
 GROUP BY c.relname ORDER BY c.relname;
-- Views run as the querying role.
SELECT c.relname FROM pg_class c
 WHERE c.relnamespace = 'prefactor'::regnamespace AND c.relkind = 'v'
   AND NOT coalesce('security_invoker=true' = ANY (c.reloptions), false);
-- PUBLIC: no function, no schema privilege.
SELECT p.oid::regprocedure FROM pg_proc p
 WHERE p.pronamespace = 'prefactor'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE');
SELECT has_schema_privilege('public', 'prefactor', 'USAGE') AS public_usage,
	   has_schema_privilege('public', 'prefactor', 'CREATE') AS public_create;
-- The API: SECURITY DEFINER with a fixed search_path, and who may call it.
SELECT p.proname, p.prosecdef AS definer, array_to_string(p.proconfig, ',') AS config,
	   string_agg(DISTINCT a.grantee::regrole::text, ',') AS granted_to
  FROM pg_proc p LEFT JOIN LATERAL aclexplode(p.proacl) a ON a.grantee <> p.proowner
 WHERE p.pronamespace = 'prefactor'::regnamespace AND p.proname LIKE 'prefactor\_%'
 GROUP BY p.proname, p.prosecdef, p.proconfig ORDER BY p.proname;
-- Every SECURITY DEFINER function reaches an access check (directly or through
-- the shared bodies, which start with one); the C span and run calls and the
-- run calls' shared bodies create_instance and end_instance check in
-- src/api/span_api.c and src/api/run_api.c (resolve_account or owning_account,
-- through prefactor_require_access), listed here so a new one shows up.
SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'prefactor'::regnamespace AND p.prosecdef AND l.lanname <> 'c'
   AND (NOT pg_get_functiondef(p.oid) ~ 'resolve_account\(|owning_account\(|has_access\(|ingest_token_row\(|lock_ingest_token\(|create_instance\(|insert_span\(|end_instance\(|sdk_call\('
		OR NOT p.proconfig @> '{"search_path=pg_catalog, prefactor, pg_temp"}');
SELECT p.proname, p.prosrc AS c_symbol FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'prefactor'::regnamespace AND l.lanname = 'c'
   AND (p.prosecdef OR p.proname IN ('create_instance', 'end_instance')) ORDER BY 1, 2;
-- PL/pgSQL functions all have a fixed search_path too (triggers run as the writer).
SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'prefactor'::regnamespace AND l.lanname = 'plpgsql'
   AND NOT coalesce(p.proconfig @> '{"search_path=pg_catalog, prefactor, pg_temp"}', false);
-- Dynamic SQL: only through format() with %I/%L (or a regclass, which quotes itself).
SELECT p.proname, (SELECT count(*) FROM regexp_matches(p.prosrc, 'EXECUTE\s+format\(', 'g')) AS via_format,
	   (SELECT count(*) FROM regexp_matches(p.prosrc, 'EXECUTE\s+(?!format\()', 'g')) AS other
  FROM pg_proc p
 WHERE p.pronamespace = 'prefactor'::regnamespace AND p.prosrc ~ 'EXECUTE\s' ORDER BY p.proname;
-- The three group roles exist and nest.
SELECT r.rolname, r.rolcanlogin, pg_has_role('prefactor_admin', r.oid, 'USAGE') AS admin_has
  FROM pg_roles r WHERE r.rolname LIKE 'prefactor\_%' ORDER BY r.rolname;

------------------------------------------------------------------------------
-- Two accounts with the same shape, and roles at each level.
------------------------------------------------------------------------------
SELECT prefactor_create_account('acme') AS acme \gset
SELECT prefactor_create_account('globex') AS globex \gset
CREATE FUNCTION pg_temp.populate(account text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	run prefactor.pfid;
	acct prefactor.pfid := prefactor.resolve_account(account);
BEGIN
	PERFORM prefactor.prefactor_create_environment(account, 'production');
	PERFORM prefactor.prefactor_register_agent(account, 'bot');
	PERFORM prefactor.prefactor_register_schema_document(account, 'https://example.com/common.json', '{"type": "object"}');
	run := prefactor.prefactor_start_run(account, 'bot', 'production', '{"external_identifier": "v1"}',
		'{"span_type_schemas": [{"name": "llm", "params_schema": {"type": "object"}}]}', idempotency_key => 'first');
	PERFORM prefactor.prefactor_record_span(run, 'llm', '{"prompt": "hi"}');
	PERFORM prefactor.prefactor_record_quality(run, 'helpfulness', '{"score": 4}');
	PERFORM prefactor.prefactor_deploy(account, 'bot', 'production', 'v1');
	INSERT INTO prefactor.risk_profiles (account_id, name) VALUES (acct, 'baseline');
	INSERT INTO prefactor.risk_profile_revisions (account_id, risk_profile_id, revision, medium_threshold,
		high_threshold, critical_threshold)
	SELECT acct, p.id, 1, 10, 20, 30 FROM prefactor.risk_profiles p WHERE p.account_id = acct;
END
$$;
SELECT pg_temp.populate('acme'), pg_temp.populate('globex');
SELECT prefactor_create_ingest_token('acme', 'bot', 'production') AS token_a \gset
SELECT prefactor_create_ingest_token('globex', 'bot', 'production') AS token_b \gset
SELECT id AS run_a FROM instances WHERE account_id = :'acme' \gset
SELECT id AS span_a FROM spans WHERE account_id = :'acme' \gset
SELECT id AS token_a_id FROM ingest_tokens WHERE account_id = :'acme' \gset
SELECT id AS run_b FROM instances WHERE account_id = :'globex' \gset

CREATE ROLE regress_a_admin LOGIN;
CREATE ROLE regress_a_ingest LOGIN;
CREATE ROLE regress_a_reader LOGIN;
CREATE ROLE regress_b_admin LOGIN;
CREATE ROLE regress_b_ingest LOGIN;
CREATE ROLE regress_b_reader LOGIN;
CREATE ROLE regress_ab_ingest LOGIN;	-- ingest in both accounts
CREATE ROLE regress_mixed LOGIN;		-- admin in globex, only reader in acme
CREATE ROLE regress_nobody LOGIN;		-- no account at all
CREATE ROLE regress_nologin;
SELECT prefactor_grant_access('acme', 'regress_a_admin', 'admin');
SELECT prefactor_grant_access('globex', 'regress_b_admin', 'admin');

-- An admin grants access to its own account, and to no other.
SET ROLE regress_a_admin;
SELECT prefactor_grant_access('acme', 'regress_a_ingest', 'ingest');
SELECT prefactor_grant_access('acme', 'regress_a_reader', 'reader');
SELECT prefactor_grant_access('acme', 'regress_ab_ingest', 'ingest');
SELECT prefactor_grant_access('acme', 'regress_mixed', 'reader');
SELECT prefactor_grant_access('globex', 'regress_a_admin', 'reader');
SELECT prefactor_grant_access('acme', 'regress_nologin', 'reader');
SELECT prefactor_grant_access('acme', 'regress_ghost', 'reader');
SELECT prefactor_grant_access('acme', 'prefactor_admin', 'reader');
SELECT prefactor_grant_access('acme', 'regress_a_reader', 'owner');
SELECT role_name, level, granted_by FROM prefactor_list_members('acme');
RESET ROLE;
SET SESSION AUTHORIZATION regress_b_admin;
SELECT prefactor_grant_access('globex', 'regress_b_ingest', 'ingest');
SELECT prefactor_grant_access('globex', 'regress_b_reader', 'reader');
SELECT prefactor_grant_access('globex', 'regress_ab_ingest', 'ingest');
SELECT prefactor_grant_access('globex', 'regress_mixed', 'admin');
SELECT prefactor_list_members('acme');
RESET SESSION AUTHORIZATION;
-- Each login role is in exactly the group of its highest level.
SELECT m.rolname, string_agg(g.rolname, ',' ORDER BY g.rolname) AS groups
  FROM pg_roles m JOIN pg_auth_members am ON am.member = m.oid JOIN pg_roles g ON g.oid = am.roleid
 WHERE m.rolname LIKE 'regress\_%' GROUP BY m.rolname ORDER BY m.rolname;
-- Memberships are visible to their own role only.
SET ROLE regress_mixed;
SELECT (account_id = :'acme') AS acme, level FROM account_members ORDER BY level;
SELECT array_length(member_accounts('reader'), 1) AS reads, array_length(member_accounts('admin'), 1) AS administers;
RESET ROLE;
-- member_accounts keeps its answer for one statement only: the same expression,
-- evaluated again after a grant and a revoke in one PL/pgSQL block (whose
-- expressions live for the transaction), sees each change.
CREATE ROLE regress_cache_probe LOGIN;
SELECT prefactor_grant_access('globex', 'regress_cache_probe', 'reader');
DO $$
DECLARE
	seen int[] := '{}';
BEGIN
	FOR step IN 1..3 LOOP
		SET LOCAL ROLE regress_cache_probe;
		seen := seen || coalesce(array_length(prefactor.member_accounts('reader'), 1), 0);
		RESET ROLE;
		IF step = 1 THEN
			PERFORM prefactor.prefactor_grant_access('acme', 'regress_cache_probe', 'reader');
		ELSIF step = 2 THEN
			PERFORM prefactor.prefactor_revoke_access('acme', 'regress_cache_probe');
		END IF;
	END LOOP;
	RAISE NOTICE 'reader accounts of the probe: before, after the grant, after the revoke: %', seen;
END
$$;
SELECT prefactor_revoke_access('globex', 'regress_cache_probe');
DROP ROLE regress_cache_probe;

-- SDK protocol rows of acme (sdk_spans, sdk_refused_spans), so that the reading and writing checks below meet rows there too.
SELECT (prefactor_sdk_register(:'token_a', '{}')).body->'details'->>'id' AS sdk_run \gset
SELECT (prefactor_sdk_start(:'token_a', :'sdk_run', '{}')).http_status AS sdk_start,
	   (prefactor_sdk_create_span(:'token_a', jsonb_build_object('details', jsonb_build_object('agent_instance_id', :'sdk_run',
			'schema_name', 'llm', 'status', 'active', 'payload', '{"span_id": "c1"}'::jsonb)))).http_status AS sdk_span,
	   prefactor_terminate_run(:'sdk_run', 'stop') AS sdk_terminated,
	   (prefactor_sdk_create_span(:'token_a', jsonb_build_object('details', jsonb_build_object('agent_instance_id', :'sdk_run',
			'schema_name', 'llm', 'status', 'active', 'payload', '{"span_id": "c2"}'::jsonb)))).http_status AS sdk_refused;
-- OTLP rows of acme (otlp_traces, otlp_spans), likewise.
SELECT (prefactor_otlp_export(:'token_a', '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "0123456789abcdef0123456789abcdef",
	"spanId": "0123456789abcdef", "name": "step", "startTimeUnixNano": "1767261600000000000",
	"endTimeUnixNano": "1767261601000000000"}]}]}]}')).http_status AS otlp;
------------------------------------------------------------------------------
-- Reading: for every table and view, globex's roles see none of acme's rows.
------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.visible(own text) RETURNS TABLE (relname text, own_rows text, other_rows text)
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	o bigint;
	x bigint;
BEGIN
	FOR r IN SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'account_id'
			  WHERE c.relnamespace = 'prefactor'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1
	LOOP
		relname := r.relname;
		BEGIN
			EXECUTE format('SELECT count(*) FILTER (WHERE account_id::text = %L), count(*) FILTER (WHERE account_id::text <> %L) FROM prefactor.%I',
						   own, own, r.relname) INTO o, x;
			own_rows := o;
			other_rows := x;
		EXCEPTION WHEN OTHERS THEN
			own_rows := SQLSTATE;
			other_rows := SQLSTATE;
		END;
		RETURN NEXT;
	END LOOP;
END
$$;
SET ROLE regress_b_reader;
SELECT * FROM pg_temp.visible(:'globex');
SET ROLE regress_b_ingest;
SELECT relname FROM pg_temp.visible(:'globex') WHERE other_rows <> '0';
SET ROLE regress_b_admin;
SELECT relname, own_rows, other_rows FROM pg_temp.visible(:'globex') WHERE other_rows <> '0' OR relname = 'ingest_tokens';
SET ROLE regress_a_reader;
SELECT relname FROM pg_temp.visible(:'acme') WHERE other_rows <> '0' OR own_rows = '0';
SET ROLE regress_nobody;
SELECT DISTINCT own_rows AS nobody_reads FROM pg_temp.visible(:'acme');
-- Ids of the other account find nothing either.
SET ROLE regress_b_admin;
SELECT count(*) AS acme_run FROM instances WHERE id = :'run_a';
SELECT count(*) AS acme_account FROM accounts WHERE name = 'acme';
RESET ROLE;

------------------------------------------------------------------------------
-- Writing into the other account: every INSERT, UPDATE and DELETE is refused
-- or finds nothing. Each INSERT copies a real acme row (with a fresh id/name).
------------------------------------------------------------------------------
CREATE TEMP TABLE samples (relname text, sample jsonb);
CREATE FUNCTION pg_temp.sample_of(rel text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	doc jsonb;
BEGIN
	EXECUTE format('SELECT to_jsonb(t) FROM prefactor.%I t WHERE t.account_id = (SELECT account_id FROM prefactor.accounts WHERE name = %L) LIMIT 1',
				   rel, 'acme') INTO doc;
	IF doc ? 'id' THEN
		doc := doc || jsonb_build_object('id', prefactor.pfid_generate(prefactor.pfid_partition((doc->>'account_id')::prefactor.pfid)));
	END IF;
	IF doc ? 'name' AND rel <> 'accounts' THEN
		doc := doc || jsonb_build_object('name', (doc->>'name') || '-2');
	END IF;
	IF doc ? 'key' THEN
		doc := doc || jsonb_build_object('key', (doc->>'key') || '-2');
	END IF;
	IF doc ? 'role_name' THEN
		doc := doc || jsonb_build_object('role_name', 'regress_b_admin', 'level', 'admin');
	END IF;
	IF rel = 'spans' THEN
		doc := doc || '{"validation": null, "payload_conforms": null}';
	END IF;
	RETURN doc;
END
$$;
INSERT INTO samples
SELECT c.relname, pg_temp.sample_of(c.relname)
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'account_id'
 WHERE c.relnamespace = 'prefactor'::regnamespace AND c.relkind IN ('r', 'p');
SELECT relname FROM samples WHERE sample IS NULL;
GRANT SELECT ON samples TO PUBLIC;
-- As superuser, the sample rows themselves are fine: the refusals below come from the boundary.
BEGIN;
SELECT s.relname, pg_temp.code(format('INSERT INTO prefactor.%I SELECT * FROM jsonb_populate_record(NULL::prefactor.%I, %L)',
									  s.relname, s.relname, s.sample)) AS superuser_insert
  FROM samples s WHERE s.relname NOT IN ('accounts') ORDER BY 1;
ROLLBACK;
CREATE FUNCTION pg_temp.cross_writes(other text) RETURNS TABLE (relname text, ins text, upd text, del text)
LANGUAGE plpgsql AS $$
DECLARE
	s record;
BEGIN
	FOR s IN SELECT * FROM pg_temp.samples ORDER BY 1 LOOP
		relname := s.relname;
		ins := pg_temp.code(format('INSERT INTO prefactor.%I SELECT * FROM jsonb_populate_record(NULL::prefactor.%I, %L)',
								   s.relname, s.relname, s.sample));
		upd := pg_temp.code(format('UPDATE prefactor.%I SET account_id = account_id WHERE account_id::text = %L', s.relname, other));
		del := pg_temp.code(format('DELETE FROM prefactor.%I WHERE account_id::text = %L', s.relname, other));
		RETURN NEXT;
	END LOOP;
END
$$;
CREATE TEMP TABLE before AS SELECT 'x' AS t, 0::bigint AS n WHERE false;
INSERT INTO before SELECT * FROM pg_temp.snapshot();
SET ROLE regress_b_admin;
SELECT * FROM pg_temp.cross_writes(:'acme');
SET ROLE regress_b_ingest;
SELECT * FROM pg_temp.cross_writes(:'acme');
SET ROLE regress_b_reader;
SELECT * FROM pg_temp.cross_writes(:'acme');
SET ROLE regress_nobody;
SELECT DISTINCT ins, upd, del FROM pg_temp.cross_writes(:'acme');
-- Moving one's own rows into the other account fails the policy's check.
SET ROLE regress_b_admin;
SELECT pg_temp.try(format('UPDATE environments SET account_id = %L WHERE account_id = %L', :'acme', :'globex'));
SET ROLE regress_b_ingest;
SELECT pg_temp.try(format('UPDATE instance_quality SET account_id = %L WHERE account_id = %L', :'acme', :'globex'));
SELECT pg_temp.try(format('UPDATE instances SET account_id = %L WHERE account_id = %L', :'acme', :'globex'));
RESET ROLE;
-- Nothing changed anywhere.
SELECT b.t, b.n, s.n FROM before b JOIN pg_temp.snapshot() s USING (t) WHERE b.n <> s.n;

------------------------------------------------------------------------------
-- Levels inside one's own account.
------------------------------------------------------------------------------
-- A reader cannot write.
SET ROLE regress_a_reader;
SELECT relname, ins, upd, del FROM pg_temp.cross_writes(:'acme') WHERE (ins, upd, del) <> ('42501', '42501', '42501');
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L, NULL, NULL)', 'acme', 'bot', 'production'));
SELECT pg_temp.try(format('SELECT prefactor_record_quality(%L, %L, %L)', :'run_a', 'tone', '{}'));
-- Ingest cannot change environments, agents, risk profiles or deployments...
SET ROLE regress_a_ingest;
SELECT relname, ins, upd, del FROM pg_temp.cross_writes(:'acme')
 WHERE relname IN ('environments', 'agents', 'risk_profiles', 'risk_profile_revisions', 'agent_deployments', 'ingest_tokens', 'account_members', 'accounts');
SELECT pg_temp.try(format('SELECT prefactor_create_environment(%L, %L)', 'acme', 'staging'));
SELECT pg_temp.try(format('SELECT prefactor_deploy(%L, %L, %L, %L)', 'acme', 'bot', 'production', 'v1'));
-- ...but runs its account's runs, through the API and through plain SQL.
SELECT prefactor_start_run('acme', 'bot', 'production', NULL, NULL) AS ingest_run \gset
SELECT (prefactor_start_span(:'ingest_run', 'llm', '{"step": 1}')).terminate;
INSERT INTO spans (account_id, instance_id, span_type, payload) VALUES (:'acme', :'ingest_run', 'llm', '{"step": 2}');
SELECT count(*) AS spans_of_run, count(span_type_id) AS declared FROM spans WHERE instance_id = :'ingest_run';
SELECT prefactor_finish_run(:'ingest_run');
-- The per-account level holds even with a group's table privileges: regress_mixed
-- (admin in globex, so in prefactor_admin) only reads acme.
SET ROLE regress_mixed;
SELECT pg_temp.try(format('INSERT INTO environments (account_id, name) VALUES (%L, %L)', :'acme', 'mine'));
SELECT pg_temp.try(format('UPDATE agents SET description = %L WHERE account_id = %L', 'x', :'acme'));
SELECT pg_temp.try(format('SELECT prefactor_create_environment(%L, %L)', 'acme', 'mine'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L, NULL, NULL)', 'acme', 'bot', 'production'));
SELECT pg_temp.try(format('INSERT INTO environments (account_id, name) VALUES (%L, %L)', :'globex', 'staging'));
SELECT count(*) AS acme_agents_seen FROM agents WHERE account_id = :'acme';
RESET ROLE;

------------------------------------------------------------------------------
-- The API, called by globex's admin with acme's names and ids: all refused.
------------------------------------------------------------------------------
DELETE FROM before;
INSERT INTO before SELECT * FROM pg_temp.snapshot();
SET ROLE regress_b_admin;
SELECT regexp_replace(stmt, '[0-7][0-9a-z]{31}', '<id>', 'g') AS call, pg_temp.try(stmt) FROM (VALUES
	(format('SELECT prefactor_create_environment(%L, %L)', 'acme', 'x')),
	(format('SELECT prefactor_create_environment(%L, %L)', :'acme', 'x')),
	(format('SELECT prefactor_register_agent(%L, %L)', 'acme', 'x')),
	(format('SELECT prefactor_start_run(%L, %L, %L, NULL, NULL)', 'acme', 'bot', 'production')),
	(format('SELECT prefactor_register_run(%L, %L, %L, NULL, NULL)', 'acme', 'bot', 'production')),
	(format('SELECT prefactor_begin_run(%L)', :'run_a')),
	(format('SELECT prefactor_start_span(%L, %L)', :'run_a', 'llm')),
	(format('SELECT prefactor_record_span(%L, %L, %L)', :'run_a', 'llm', '{}')),
	(format('SELECT prefactor_finish_span(%L)', :'span_a')),
	(format('SELECT prefactor_finish_run(%L)', :'run_a')),
	(format('SELECT prefactor_terminate_run(%L, %L)', :'run_a', 'stop')),
	(format('SELECT prefactor_record_quality(%L, %L, %L)', :'run_a', 'tone', '{}')),
	(format('SELECT prefactor_deploy(%L, %L, %L, %L)', 'acme', 'bot', 'production', 'v1')),
	(format('SELECT prefactor_purge_runs(%L, %L)', 'acme', 'infinity')),
	(format('SELECT prefactor_grant_access(%L, %L, %L)', 'acme', 'regress_b_admin', 'admin')),
	(format('SELECT prefactor_revoke_access(%L, %L)', 'acme', 'regress_a_admin')),
	(format('SELECT prefactor_list_members(%L)', 'acme')),
	(format('SELECT prefactor_create_ingest_token(%L, %L, %L)', 'acme', 'bot', 'production')),
	(format('SELECT prefactor_list_ingest_tokens(%L)', 'acme')),
	(format('SELECT prefactor_revoke_ingest_token(%L)', :'token_a_id')),
	(format('SELECT prefactor_set_ingest_token_expiry(%L, %L)', :'token_a_id', 'infinity')),
	(format('SELECT prefactor_create_account(%L)', 'hostile')),
	(format('SELECT prefactor_start_run(%L, %L, %L, NULL, NULL)', 'no-such-account', 'bot', 'production'))
) v(stmt);
RESET ROLE;
SELECT b.t, b.n, s.n FROM before b JOIN pg_temp.snapshot() s USING (t) WHERE b.n <> s.n;
SELECT status FROM instances WHERE id = :'run_a';

------------------------------------------------------------------------------
-- Caller identity: SET ROLE and SET SESSION AUTHORIZATION both count; a
-- search_path of the caller's making changes nothing.
------------------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_b_reader;
SELECT calling_role() AS not_granted;
SELECT current_user, pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L, NULL, NULL)', 'globex', 'bot', 'production'));
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_b_ingest;
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L, NULL, NULL)', 'globex', 'bot', 'production')) ~ '^ok' AS session_ingest_ok;
RESET SESSION AUTHORIZATION;
CREATE SCHEMA regress_evil;
GRANT USAGE ON SCHEMA regress_evil TO PUBLIC;
CREATE FUNCTION regress_evil.always(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE RETURN true;
CREATE OPERATOR regress_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_evil.always);
CREATE FUNCTION regress_evil.always_name(name, name) RETURNS boolean LANGUAGE sql IMMUTABLE RETURN true;
CREATE OPERATOR regress_evil.= (LEFTARG = name, RIGHTARG = name, FUNCTION = regress_evil.always_name);
SET ROLE regress_b_admin;
SET search_path = regress_evil, pg_catalog, prefactor;
SELECT 'a'::text = 'b'::text AS hijacked_here;
SELECT count(*) AS acme_environments FROM environments WHERE account_id <> :'globex';
SELECT pg_temp.try(format('INSERT INTO environments (account_id, name) VALUES (%L, %L)', :'acme', 'evil'));
SELECT pg_temp.try(format('SELECT prefactor_create_environment(%L, %L)', 'acme', 'evil'));
RESET ROLE;
SET search_path = prefactor, public;
DROP SCHEMA regress_evil CASCADE;

------------------------------------------------------------------------------
-- Ingest tokens
------------------------------------------------------------------------------
SELECT :'token_a' ~ '^pft_[0-7][0-9a-hjkmnp-tv-z]{31}_[0-9a-f]{64}$' AS token_shape,
	   :'token_a' <> :'token_b' AS distinct_tokens;
-- Only the SHA-256 of the token is kept; the secret is nowhere in the table.
SELECT secret_hash = sha256(convert_to(:'token_a', 'UTF8')) AS hash_kept,
	   position(split_part(:'token_a', '_', 3) IN t::text) = 0 AS secret_absent
  FROM ingest_tokens t WHERE id = :'token_a_id';
SELECT secure_equal('\x0102', '\x0102') AS same, secure_equal('\x0102', '\x0103') AS differ,
	   secure_equal('\x01', '\x0102') AS shorter;
-- Listed without secrets.
SET ROLE regress_a_admin;
SELECT agent, environment, status, created_by, expires_at, revoked_at FROM prefactor_list_ingest_tokens('acme');
SELECT count(*) AS columns_with_secret FROM prefactor_list_ingest_tokens('acme') l
 WHERE position(split_part(:'token_a', '_', 3) IN l::text) > 0;
-- A run started with the token lands in the token's agent and environment.
SET ROLE regress_a_ingest;
SELECT prefactor_start_run(:'token_a', '{"external_identifier": "v2"}', '{}') AS token_run \gset
RESET ROLE;
SELECT (i.account_id = :'acme') AS in_acme, g.name AS agent, e.name AS environment, i.status, v.external_identifier
  FROM instances i JOIN agents g ON g.account_id = i.account_id AND g.id = i.agent_id
  JOIN environments e ON e.account_id = i.account_id AND e.id = i.environment_id
  JOIN agent_versions v ON v.account_id = i.account_id AND v.id = i.version_id
 WHERE i.id = :'token_run';
SELECT last_used_at IS NOT NULL AS used FROM ingest_tokens WHERE id = :'token_a_id';
-- Both overloads resolve with untyped literals: five and more arguments name the
-- account; three or four arguments take a token.
SET ROLE regress_a_ingest;
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L, %L, %L)', 'acme', 'bot', 'production', '{"external_identifier": "v2"}', '{}'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L, %L, %L, %L, %L)', 'acme', 'bot', 'production', '{"external_identifier": "v2"}', '{}', 'eval', 'k1'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L)', :'token_a', '{"external_identifier": "v2"}', '{}'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L, %L)', :'token_a', '{"external_identifier": "v2"}', '{}', '{"purpose": "eval", "idempotency_key": "tk1"}'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(token => %L, version => %L, schema => %L)', :'token_a', '{"external_identifier": "v2"}', '{}'));
-- Options: idempotent retries, and wrong shapes.
SELECT prefactor_start_run(:'token_a', '{"external_identifier": "v2"}', '{}', '{"idempotency_key": "tk2", "started_at": "2025-01-01T00:00:00Z"}') AS tk2 \gset
SELECT prefactor_start_run(:'token_a', '{"external_identifier": "v2"}', '{}', '{"idempotency_key": "tk2", "started_at": "2025-01-01T00:00:00Z"}') = :'tk2' AS same_run;
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L, %L)', :'token_a', '{"external_identifier": "v2"}', '{}', '[]'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L, %L)', :'token_a', '{"external_identifier": "v2"}', '{}', '{"agent": "other"}'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L, %L)', :'token_a', '{"external_identifier": "v2"}', '{}', '{"purpose": 7}'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L, %L)', :'token_a', '{"external_identifier": "v2"}', '{}', '{"purpose": "demo"}'));
RESET ROLE;
-- Refused tokens: invalid_authorization_specification, and nothing is written.
DELETE FROM before;
INSERT INTO before SELECT * FROM pg_temp.snapshot();
SET ROLE regress_a_ingest;
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L)', 'pft_nonsense', '{"external_identifier": "v2"}', '{}'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L)', '', '{"external_identifier": "v2"}', '{}'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L)', left(:'token_a', -1) || CASE WHEN right(:'token_a', 1) = '0' THEN '1' ELSE '0' END, '{"external_identifier": "v2"}', '{}'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L)', replace(:'token_a', split_part(:'token_a', '_', 2), split_part(:'token_b', '_', 2)), '{"external_identifier": "v2"}', '{}'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L)', 'pft_' || prefactor.pfid_generate(1) || '_' || repeat('0', 64), '{"external_identifier": "v2"}', '{}'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L)', upper(:'token_a'), '{"external_identifier": "v2"}', '{}'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L)', :'token_a' || ' ', '{"external_identifier": "v2"}', '{}'));
-- A token of acme cannot start a run for a role that has no ingest access to acme...
SET ROLE regress_b_ingest;
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L)', :'token_a', '{"external_identifier": "v2"}', '{}'));
-- ...nor in globex for one that has: the token decides the account.
SET ROLE regress_ab_ingest;
SELECT prefactor_start_run(:'token_a', '{"external_identifier": "v2"}', '{}') AS ab_run \gset
SELECT (SELECT account_id FROM instances WHERE id = :'ab_run') = :'acme' AS landed_in_acme;
RESET ROLE;
-- Revoked and expired tokens.
SET ROLE regress_b_admin;
SELECT pg_temp.try(format('SELECT prefactor_revoke_ingest_token(%L)', :'token_a_id'));
SET ROLE regress_a_admin;
SELECT prefactor_create_ingest_token('acme', 'bot', 'production', now() + interval '1 hour') AS token_c \gset
SELECT prefactor_create_ingest_token('acme', 'bot', 'production') AS token_d \gset
SELECT pg_temp.try(format('SELECT prefactor_create_ingest_token(%L, %L, %L, %L)', 'acme', 'bot', 'production', '2000-01-01'));
SELECT pg_temp.try(format('SELECT prefactor_create_ingest_token(%L, %L, %L)', 'acme', 'bot', 'nowhere'));
SELECT prefactor_revoke_ingest_token(split_part(:'token_a', '_', 2)::pfid) AS revoked,
	   prefactor_revoke_ingest_token(split_part(:'token_a', '_', 2)::pfid) AS revoked_again;
SELECT pg_temp.try(format('SELECT prefactor_set_ingest_token_expiry(%L, NULL)', split_part(:'token_a', '_', 2)));
SELECT prefactor_set_ingest_token_expiry(split_part(:'token_d', '_', 2)::pfid, now() - interval '1 second');
SELECT status, count(*) FROM prefactor_list_ingest_tokens('acme') GROUP BY status ORDER BY status;
SET ROLE regress_a_ingest;
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L)', :'token_a', '{"external_identifier": "v2"}', '{}'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L)', :'token_d', '{"external_identifier": "v2"}', '{}'));
SELECT pg_temp.try(format('SELECT prefactor_start_run(%L, %L, %L)', :'token_c', '{"external_identifier": "v2"}', '{}')) ~ '^ok' AS unexpired_ok;
RESET ROLE;
SELECT b.t, s.n - b.n AS added FROM before b JOIN pg_temp.snapshot() s USING (t) WHERE b.n <> s.n ORDER BY 1;

------------------------------------------------------------------------------
-- Revoking access takes effect at once and drops the group when none is left.
------------------------------------------------------------------------------
SET ROLE regress_a_admin;
SELECT prefactor_revoke_access('acme', 'regress_a_reader') AS revoked, prefactor_revoke_access('acme', 'regress_a_reader') AS again;
RESET ROLE;
SELECT count(*) AS reader_groups FROM pg_auth_members am JOIN pg_roles m ON m.oid = am.member
 WHERE m.rolname = 'regress_a_reader';
SET ROLE regress_a_reader;
SELECT pg_temp.try('SELECT count(*) FROM prefactor.instances');
RESET ROLE;

-- Clean up: the roles go; the group roles stay with the cluster.
DROP ROLE regress_a_admin, regress_a_ingest, regress_a_reader, regress_b_admin, regress_b_ingest,
	regress_b_reader, regress_ab_ingest, regress_mixed, regress_nobody, regress_nologin;
DROP EXTENSION prefactor CASCADE;
SELECT rolname FROM pg_roles WHERE rolname LIKE 'prefactor\_%' ORDER BY 1;
CREATE EXTENSION prefactor;
