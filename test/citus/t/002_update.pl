# ALTER EXTENSION prefactor UPDATE on a Citus cluster, run as doc/scale-out.md
# says: a coordinator and a worker with prefactor 0.1.0 (which had no
# prefactor.distribute(), so its tables are local to the coordinator, with
# rows in them), then on every node, in one session each:
#   SET citus.enable_ddl_propagation = off;
#   SET citus.enable_local_reference_table_foreign_keys = off;
#   ALTER EXTENSION prefactor UPDATE;
# then prefactor.distribute() on the coordinator. Every node is at the new
# version, the old rows are in the shards, and a login role records a run
# through the coordinator (its span calls delegated to the worker).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# after the five ports of 001_distributed.pl
my $next_port = defined $ENV{PREFACTOR_CITUS_PORT} ? $ENV{PREFACTOR_CITUS_PORT} + 5 : undef;

sub new_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name, defined $next_port ? (port => $next_port++) : ());
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'citus'
max_prepared_transactions = 100
citus.enable_unsafe_triggers = on
citus.node_conninfo = 'sslmode=prefer'
}
	  . "citus.local_hostname = '" . $node->host . "'\n");
	$node->start;
	$node->safe_psql('postgres', q{CREATE EXTENSION citus; CREATE EXTENSION prefactor VERSION '0.1.0' CASCADE;});
	return $node;
}

my $coord = new_node('update_coordinator');
my $worker = new_node('update_worker');
$coord->safe_psql('postgres', sprintf(q{SELECT citus_set_coordinator_host('%s', %d)}, $coord->host, $coord->port));
$coord->safe_psql('postgres', sprintf(q{SELECT citus_add_node('%s', %d)}, $worker->host, $worker->port));

# rows written under 0.1.0 (plain SQL: 0.1.0 had no API functions)
$coord->safe_psql('postgres', q{
SET search_path = prefactor, public;
INSERT INTO prefactor.accounts (account_id, partition, name) VALUES (prefactor.pfid_generate(77), 77, 'legacy');
INSERT INTO prefactor.environments (account_id, name)
	SELECT account_id, 'production' FROM prefactor.accounts WHERE name = 'legacy';
INSERT INTO prefactor.agents (account_id, name)
	SELECT account_id, 'old-bot' FROM prefactor.accounts WHERE name = 'legacy';
});
my $before = $coord->safe_psql('postgres', q{
SET search_path = prefactor, public;
SELECT string_agg(format('%s %s %s', a.name, e.name, g.name), ',')
  FROM prefactor.environments e JOIN prefactor.agents g ON g.account_id = e.account_id
  JOIN prefactor.accounts a ON a.account_id = e.account_id});

# the documented procedure, on every node
for my $node ($coord, $worker)
{
	my ($rc, $out, $err) = $node->psql('postgres', q{
SET citus.enable_ddl_propagation = off;
SET citus.enable_local_reference_table_foreign_keys = off;
ALTER EXTENSION prefactor UPDATE;});
	is($rc, 0, 'ALTER EXTENSION prefactor UPDATE on ' . $node->name) or diag($err);
	is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'prefactor'}),
		'0.2.0', $node->name . ' is at 0.2.0');
}
my ($rc, $out, $err) = $coord->psql('postgres', 'SELECT count(*) FILTER (WHERE changed) FROM prefactor.distribute()');
is($rc, 0, 'prefactor.distribute() after the update') or diag($err);
ok($out > 10, "prefactor.distribute() distributed the tables ($out changed)");
is($coord->safe_psql('postgres', q{
SELECT count(*) FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid
 WHERE c.relnamespace = 'prefactor'::regnamespace AND p.logicalrelid::text NOT IN
	(SELECT c2.oid::regclass::text FROM pg_extension e, unnest(e.extconfig) r JOIN pg_class c2 ON c2.oid = r
	  WHERE e.extname = 'prefactor' AND c2.relkind = 'r')}), '0', 'only prefactor tables are Citus tables');
is($coord->safe_psql('postgres', q{
SET search_path = prefactor, public;
SELECT count(*) FROM prefactor.accounts a JOIN prefactor.environments e USING (account_id)}), '1',
	'the 0.1.0 rows are in the shards');
is($coord->safe_psql('postgres', q{
SET search_path = prefactor, public;
SELECT string_agg(format('%s %s %s', a.name, e.name, g.name), ',')
  FROM prefactor.environments e JOIN prefactor.agents g ON g.account_id = e.account_id
  JOIN prefactor.accounts a ON a.account_id = e.account_id}),
	$before, 'the 0.1.0 rows read the same through the coordinator');

# a login role records a run in the old account through the coordinator
$coord->safe_psql('postgres', q{
CREATE ROLE up_ingest LOGIN;
SELECT prefactor.prefactor_grant_access('legacy', 'up_ingest', 'ingest');});
my $run_sql = q{
SELECT prefactor.prefactor_start_run('legacy', 'old-bot', 'production', '{"external_identifier": "v1"}',
	'{"span_type_schemas": [{"name": "step", "params_schema": {"type": "object", "required": ["n"]}}]}') AS run \gset
SELECT span_id AS span FROM prefactor.prefactor_start_span(:'run', 'step', '{"n": 1}') \gset
SELECT terminate FROM prefactor.prefactor_finish_span(:'span', 'complete', '{}');
SELECT span_id IS NOT NULL AS stored FROM prefactor.prefactor_start_span(:'run', 'step', '{"m": 1}');
SELECT prefactor.prefactor_finish_run(:'run');
SELECT status, spans, schema_mismatches FROM prefactor.instance_summary WHERE instance_id = :'run';
};
($rc, $out, $err) = $coord->psql('postgres', $run_sql, extra_params => ['-U', 'up_ingest']);
is($rc, 0, 'the ingest role records a run with spans after the update') or diag($err);
is($out, "f\nt\ncomplete\ncomplete|2|1", 'the run and its spans are stored and validated (one mismatch), and finished') or diag($out);
is($coord->safe_psql('postgres', q{
SELECT count(*) FROM pg_dist_object WHERE classid = 'pg_proc'::regclass AND distribution_argument_index IS NOT NULL}),
	'6', 'the run start by account id, the span calls, prefactor_finish_run and prefactor_sdk_call are distributed functions');
is($coord->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE get_shard_id_for_distribution_column('prefactor.spans', s.id)
						  = get_shard_id_for_distribution_column('prefactor.spans', s.account_id)) || '/' || count(*)
  FROM prefactor.spans s}), '2/2',
	'span ids are drawn into their account\'s shard (calls naming them are delegated there)');

done_testing();
