-- Installing the latest version and upgrading from 0.1.0 give the same objects.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
RESET client_min_messages;

-- Everything the extension owns, described so that two installs can be compared.
CREATE FUNCTION pg_temp.extension_objects() RETURNS SETOF text LANGUAGE sql AS $$
	SELECT 'member ' || pg_describe_object(d.classid, d.objid, 0)
	  FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'prefactor'
	UNION ALL
	SELECT format('column %s.%s %s notnull=%s default=%s', c.relname, a.attname,
				  format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid))
	  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	  JOIN pg_namespace n ON n.oid = c.relnamespace
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	 WHERE n.nspname = 'prefactor' AND a.attnum > 0 AND NOT a.attisdropped
	UNION ALL
	SELECT format('constraint %s %s', co.conname, pg_get_constraintdef(co.oid))
	  FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace WHERE n.nspname = 'prefactor'
	UNION ALL
	SELECT 'index ' || pg_get_indexdef(i.indexrelid)
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'prefactor'
	UNION ALL
	SELECT 'trigger ' || pg_get_triggerdef(t.oid)
	  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'prefactor' AND NOT t.tgisinternal
	UNION ALL
	SELECT format('function %s %s', p.oid::regprocedure, md5(pg_get_functiondef(p.oid)))
	  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	 WHERE n.nspname = 'prefactor' AND p.prokind IN ('f', 'p')
	UNION ALL
	SELECT format('view %s %s', c.relname, md5(pg_get_viewdef(c.oid)))
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'prefactor' AND c.relkind IN ('v', 'm')
	UNION ALL
	SELECT format('comment %s: %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description)
	  FROM pg_description d JOIN pg_depend x ON x.classid = d.classoid AND x.objid = d.objoid
	  JOIN pg_extension e ON x.refobjid = e.oid
	 WHERE x.refclassid = 'pg_extension'::regclass AND x.deptype = 'e' AND e.extname = 'prefactor'
	UNION ALL
	SELECT 'policy ' || pol.polname || ' on ' || c.relname || ' ' || coalesce(pg_get_expr(pol.polqual, pol.polrelid), '')
	  FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'prefactor'
	UNION ALL
	SELECT format('storage %s %s', c.relname, c.reloptions)
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'prefactor' AND c.reloptions IS NOT NULL
	UNION ALL
	SELECT 'dumped ' || c::regclass::text FROM pg_extension e, unnest(e.extconfig) c WHERE e.extname = 'prefactor'
$$;

CREATE EXTENSION prefactor VERSION '0.1.0';
ALTER EXTENSION prefactor UPDATE;
SELECT extversion AS upgraded_to FROM pg_extension WHERE extname = 'prefactor';
CREATE TEMP TABLE upgraded AS SELECT pg_temp.extension_objects() AS item;
DROP EXTENSION prefactor CASCADE;

CREATE EXTENSION prefactor;
SELECT extversion AS installed FROM pg_extension WHERE extname = 'prefactor';
CREATE TEMP TABLE installed AS SELECT pg_temp.extension_objects() AS item;

SELECT (SELECT count(*) FROM installed) > 100 AS compared_many_objects;
-- Differences between the two, both ways: none.
(SELECT 'only after upgrade' AS side, item FROM upgraded EXCEPT SELECT 'only after upgrade', item FROM installed)
UNION ALL
(SELECT 'only in fresh install', item FROM installed EXCEPT SELECT 'only in fresh install', item FROM upgraded)
ORDER BY 1, 2;
-- Every function, table, view and type of the extension is documented.
SELECT p.oid::regprocedure AS undocumented_function FROM pg_proc p
 WHERE p.pronamespace = 'prefactor'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL;
SELECT c.relname AS undocumented_relation FROM pg_class c
 WHERE c.relnamespace = 'prefactor'::regnamespace AND c.relkind IN ('r', 'v') AND obj_description(c.oid, 'pg_class') IS NULL;
SELECT t.typname AS undocumented_type FROM pg_type t
 WHERE t.typnamespace = 'prefactor'::regnamespace AND t.typtype IN ('b', 'e') AND t.typcategory <> 'A' AND obj_description(t.oid, 'pg_type') IS NULL;

-- Rows written under 0.1.0 survive the upgrade, which rebuilds spans with a
-- new column order (01-spans-layout.sql): every value and the parent links.
DROP EXTENSION prefactor CASCADE;
CREATE EXTENSION prefactor VERSION '0.1.0';
SET search_path = prefactor, public;
INSERT INTO accounts (account_id, partition, name) VALUES (pfid_generate(7), 7, 'upgrade-acct') RETURNING account_id AS acct \gset
INSERT INTO environments (account_id, name) VALUES (:'acct', 'production') RETURNING id AS env \gset
INSERT INTO agents (account_id, name) VALUES (:'acct', 'agent') RETURNING id AS agent \gset
INSERT INTO activity_schema_versions (account_id, agent_id, number, content, content_digest)
	VALUES (:'acct', :'agent', 1, '{}', '\x00') RETURNING id AS sv \gset
INSERT INTO agent_versions (account_id, agent_id, schema_version_id, metadata, metadata_digest)
	VALUES (:'acct', :'agent', :'sv', '{}', '\x00') RETURNING id AS ver \gset
INSERT INTO instances (account_id, agent_id, version_id, schema_version_id, environment_id, status, started_at, finished_at)
	VALUES (:'acct', :'agent', :'ver', :'sv', :'env', 'complete', '2026-01-01', '2026-01-02') RETURNING id AS run \gset
INSERT INTO spans (account_id, instance_id, span_type, status, payload, result, started_at, finished_at,
				   validation, payload_conforms, result_conforms, result_errors)
	VALUES (:'acct', :'run', 'root', 'complete', '{"a": 1}', '{"b": 2}', '2026-01-01', '2026-01-01 01:00',
			'validated', true, false, '[{"message": "x"}]') RETURNING id AS root \gset
INSERT INTO spans (account_id, instance_id, parent_span_id, span_type, status, payload, started_at, finished_at)
	VALUES (:'acct', :'run', :'root', 'child', 'failed', '{"c": 3}', '2026-01-01 00:10', '2026-01-01 00:20');
CREATE TEMP TABLE spans_before AS SELECT to_jsonb(s) AS row FROM spans s;
ALTER EXTENSION prefactor UPDATE;
-- the same rows (by every 0.1.0 column), the new columns empty, the parent link kept
SELECT count(*) AS spans,
	   count(*) FILTER (WHERE to_jsonb(s) @> b.row) AS unchanged,
	   count(*) FILTER (WHERE s.span_type_id IS NULL AND s.risk_total IS NULL) AS new_columns_empty
  FROM spans s JOIN spans_before b ON b.row ->> 'id' = s.id::text;
SELECT count(*) AS children_with_parent FROM spans s JOIN spans p ON (p.account_id, p.instance_id, p.id) = (s.account_id, s.instance_id, s.parent_span_id);
-- the tests after this one start from a fresh install
DROP EXTENSION prefactor CASCADE;
CREATE EXTENSION prefactor;
RESET search_path;
