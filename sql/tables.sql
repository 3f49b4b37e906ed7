-- The current shape of every table of the extension, in one place: this
-- file's expected output (expected/tables.out) is the reference. Columns in
-- order with their types, defaults and comments, then constraints, indexes,
-- triggers, row-level security policies and storage parameters. A change to
-- any table changes this output, so it is reviewed with the change.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS prefactor CASCADE;
CREATE EXTENSION prefactor;
RESET client_min_messages;
\pset format unaligned
\pset tuples_only on
\pset fieldsep ' | '

WITH t AS (
	SELECT c.oid, c.relname FROM pg_class c
	 WHERE c.relnamespace = 'prefactor'::regnamespace AND c.relkind = 'r'
)
SELECT line FROM (
	SELECT t.relname, 0 AS part, 0 AS n,
		   format('== %s: %s', t.relname, coalesce(obj_description(t.oid, 'pg_class'), '(no comment)')) AS line
	  FROM t
	UNION ALL
	SELECT t.relname, 1, a.attnum,
		   format('  %s %s%s%s -- %s', a.attname, format_type(a.atttypid, a.atttypmod),
				  CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
				  CASE WHEN d.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid) ELSE '' END,
				  coalesce(col_description(t.oid, a.attnum), '(no comment)'))
	  FROM t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
	  LEFT JOIN pg_attrdef d ON d.adrelid = t.oid AND d.adnum = a.attnum
	UNION ALL
	SELECT t.relname, 2, row_number() OVER (PARTITION BY t.relname ORDER BY co.conname),
		   format('  constraint %s: %s', co.conname, pg_get_constraintdef(co.oid))
	  FROM t JOIN pg_constraint co ON co.conrelid = t.oid
	UNION ALL
	SELECT t.relname, 3, row_number() OVER (PARTITION BY t.relname ORDER BY i.indexrelid::regclass::text),
		   format('  index %s', regexp_replace(pg_get_indexdef(i.indexrelid), ' ON prefactor\.\S+ USING', ' USING'))
	  FROM t JOIN pg_index i ON i.indrelid = t.oid
	UNION ALL
	SELECT t.relname, 4, row_number() OVER (PARTITION BY t.relname ORDER BY tg.tgname),
		   format('  trigger %s', regexp_replace(pg_get_triggerdef(tg.oid), '^CREATE TRIGGER \S+ ', ''))
	  FROM t JOIN pg_trigger tg ON tg.tgrelid = t.oid AND NOT tg.tgisinternal
	UNION ALL
	SELECT t.relname, 5, row_number() OVER (PARTITION BY t.relname ORDER BY p.polname),
		   format('  policy %s (%s): %s', p.polname,
				  CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
								WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
				  concat_ws(' WITH CHECK ', pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)))
	  FROM t JOIN pg_policy p ON p.polrelid = t.oid
	UNION ALL
	SELECT t.relname, 6, 0, format('  storage %s', array_to_string(c.reloptions, ', '))
	  FROM t JOIN pg_class c ON c.oid = t.oid WHERE c.reloptions IS NOT NULL
) x
ORDER BY relname, part, n;
-- Every table and column says what it holds.
\pset tuples_only off
SELECT count(*) FILTER (WHERE col_description(c.oid, a.attnum) IS NULL) AS columns_without_comment,
	   count(DISTINCT c.oid) FILTER (WHERE obj_description(c.oid, 'pg_class') IS NULL) AS tables_without_comment
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = 'prefactor'::regnamespace AND c.relkind = 'r';
