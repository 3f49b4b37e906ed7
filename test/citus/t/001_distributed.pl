# prefactor distributed on Citus, tested the way the product is used.
#
# A plain node and a Citus cluster (a coordinator and two workers, all with
# shared_preload_libraries = 'citus') on this machine. On every Citus node:
# CREATE EXTENSION citus; CREATE EXTENSION prefactor CASCADE; then the workers
# are registered and prefactor.distribute() runs on the coordinator. The
# product's usage (test/citus/usage.sql: login roles on fresh connections,
# tokens, spans with validation, live risk with termination and the alert
# on a LISTEN, quality, views, timeline, aggregates across accounts, purge)
# runs on both; the outputs must be the same. Then a third worker is added and
# the shards rebalanced onto it, and one account is isolated to shards of its
# own: every row stays (counts and digests), and every rule and call still works.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $dir = $ENV{PREFACTOR_CITUS_DIR} or die "PREFACTOR_CITUS_DIR is not set";
my $next_port = $ENV{PREFACTOR_CITUS_PORT};

sub new_node
{
	my ($name, $citus) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name, defined $next_port ? (port => $next_port++) : ());
	$node->init;
	if ($citus)
	{
		# what doc/scale-out.md asks of every node
		$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'citus'
max_prepared_transactions = 100
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
citus.enable_unsafe_triggers = on
citus.node_conninfo = 'sslmode=prefer'
}
		  # the nodes listen on a socket directory only: Citus's connections to the node itself go there
		  . "citus.local_hostname = '" . $node->host . "'\n");
	}
	$node->start;
	if ($citus)
	{
		$node->safe_psql('postgres', 'CREATE EXTENSION citus; CREATE EXTENSION prefactor CASCADE;');
	}
	return $node;
}

# Runs a psql script file; returns (exit code, stdout, stderr).
sub run_script
{
	my ($node, $file) = @_;
	my ($out, $err) = ('', '');
	my @cmd = ('psql', '-X', '-a', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-f', $file);
	IPC::Run::run(\@cmd, '>', \$out, '2>', \$err);
	my $code = $? >> 8;
	return ($code, $out, $err);
}

# What differs between two runs of the same script: ids and backend PIDs.
sub masked
{
	my ($text) = @_;
	$text =~ s/\b[0-7][0-9a-z]{31}\b/<id>/g;
	$text =~ s/pft_<id>_[0-9a-f]{64}/<token>/g;
	$text =~ s/server process with PID \d+/server process with PID <pid>/g;
	return $text;
}

my $plain = new_node('plain', 0);
$plain->safe_psql('postgres', 'CREATE EXTENSION prefactor');

my $coord = new_node('coordinator', 1);
my @workers = (new_node('worker1', 1), new_node('worker2', 1));

$coord->safe_psql('postgres', sprintf(q{SELECT citus_set_coordinator_host('%s', %d)}, $coord->host, $coord->port));
for my $w (@workers)
{
	$coord->safe_psql('postgres', sprintf(q{SELECT citus_add_node('%s', %d)}, $w->host, $w->port));
}
is($coord->safe_psql('postgres', 'SELECT count(*) FROM citus_get_active_worker_nodes()'), '2', 'two workers registered');

# refusals: without Citus, and with a setting it needs off (named in the error)
my ($rc, $out, $err) = $plain->psql('postgres', "\\set VERBOSITY verbose\nSELECT prefactor.distribute()");
like($err, qr/ERROR:  0A000: prefactor.distribute\(\) needs the Citus extension.*\nHINT:  .*shared_preload_libraries/s,
	 'prefactor.distribute() without Citus refuses, with a hint') or diag($err);
($rc, $out, $err) = $coord->psql('postgres',
	"\\set VERBOSITY verbose\nSET citus.enable_unsafe_triggers = off;\nSELECT prefactor.distribute()");
like($err, qr/ERROR:  55000: prefactor.distribute\(\) needs citus.enable_unsafe_triggers = on.*\nHINT:  Set citus.enable_unsafe_triggers = on/s,
	 'prefactor.distribute() refuses when citus.enable_unsafe_triggers is off, naming it') or diag($err);
is($coord->safe_psql('postgres', 'SELECT count(*) FROM pg_dist_partition'), '0', 'a refused distribute() changed nothing');

# distribute
($rc, $out, $err) = $coord->psql('postgres', 'SELECT prefactor.distribute()');
is($rc, 0, 'prefactor.distribute() succeeds') or diag($err);
($rc, $out, $err) = $coord->psql('postgres', 'SELECT prefactor.distribute()');
is($rc, 0, 'prefactor.distribute() again changes nothing (idempotent)') or diag($err);
is($coord->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE c.logicalrelid IS NULL) FROM pg_extension e
	  CROSS JOIN LATERAL unnest(e.extconfig) AS cfg(relid) JOIN pg_class k ON k.oid = cfg.relid
	  LEFT JOIN pg_dist_partition c ON c.logicalrelid = k.oid
	 WHERE e.extname = 'prefactor' AND k.relkind = 'r'}), '0', 'every prefactor table is a Citus table');
is($coord->safe_psql('postgres', q{
	SELECT string_agg(logicalrelid::regclass::text, ', ' ORDER BY logicalrelid::regclass::text)
	  FROM pg_dist_partition WHERE partmethod = 'n' AND repmodel = 't'}),
   'prefactor.account_members, prefactor.accounts, prefactor.risk_profile_templates',
   'accounts, memberships and the shared templates are reference tables');
is($coord->safe_psql('postgres', q{
	SELECT count(DISTINCT colocationid) || ' ' || count(*) FROM pg_dist_partition WHERE partmethod = 'h'}),
   $coord->safe_psql('postgres', q{SELECT '1 ' || count(*) FROM pg_extension e, unnest(e.extconfig) c, pg_class k
	 WHERE e.extname = 'prefactor' AND k.oid = c AND k.relkind = 'r' AND k.relname NOT IN ('accounts', 'account_members', 'risk_profile_templates')}),
   'the distributed tables are co-located');

# the same usage on both
my ($prc, $pout, $perr) = run_script($plain, "$dir/usage.sql");
is($prc, 0, 'the usage script runs on a plain node') or diag($perr);
my ($crc, $cout, $cerr) = run_script($coord, "$dir/usage.sql");
is($crc, 0, 'the usage script runs through the coordinator') or diag($cerr);
my ($pm, $cm) = (masked($pout), masked($cout));
my $same = $pm eq $cm;
ok($same, 'the coordinator answers exactly as the plain node');
if (!$same)
{
	my ($a, $b) = ("$PostgreSQL::Test::Utils::tmp_check/plain.out", "$PostgreSQL::Test::Utils::tmp_check/citus.out");
	PostgreSQL::Test::Utils::append_to_file($a, $pm);
	PostgreSQL::Test::Utils::append_to_file($b, $cm);
	diag(`diff -u $a $b | head -80`);
}
like($pout, qr/Asynchronous notification "prefactor_risk" with payload "\{"account": "acme", "agent": "strict-bot".*"level": "high", "terminated": true\}"/,
	 'the termination alert reaches the LISTEN of the plain node');
like($cout, qr/Asynchronous notification "prefactor_risk" with payload "\{"account": "acme", "agent": "strict-bot".*"level": "high", "terminated": true\}"/,
	 'the termination alert reaches the LISTEN on the coordinator');

# The SDK protocol through the coordinator touches one account's shards per
# query: with Citus told to refuse any query that spans several shards, a
# run registered, started, given a span and finished by its token succeeds
# (the token's row is read by its account, not by a join over every shard).
{
	my $token = $coord->safe_psql('postgres',
		q{SELECT prefactor.prefactor_create_ingest_token('acme', 'support-bot', 'production')});
	my ($src, $sout, $serr) = $coord->psql('postgres', qq{
SET citus.multi_task_query_log_level = error;
SELECT (prefactor.prefactor_sdk_register('$token', '{"agent_version": {"external_identifier": "v1"}}')).body->'details'->>'id' AS run \\gset
SELECT (prefactor.prefactor_sdk_start('$token', :'run', '{}')).http_status;
SELECT (prefactor.prefactor_sdk_create_span('$token', jsonb_build_object('details', jsonb_build_object(
	'agent_instance_id', :'run', 'schema_name', 'lookup', 'status', 'complete',
	'payload', '{"span_id": "one-shard-1", "inputs": {"q": "x"}}'::jsonb, 'started_at', now(), 'finished_at', now())))).http_status;
SELECT (prefactor.prefactor_sdk_finish('$token', :'run', '{"status": "complete"}')).http_status;
SELECT (prefactor.prefactor_otlp_export('$token', '{"resourceSpans": [{"resource": {"attributes": [
	{"key": "service.name", "value": {"stringValue": "support-bot"}}]}, "scopeSpans": [{"spans": [
	{"traceId": "1af7651916cd43dd8448eb211c80319c", "spanId": "c7ad6b7169203331", "name": "agent",
	 "startTimeUnixNano": "1767261600000000000", "endTimeUnixNano": "1767261601000000000", "status": {}}]}]}]}')).http_status;
RESET citus.multi_task_query_log_level;
SELECT count(*) FROM prefactor.spans WHERE instance_id = :'run';
}, extra_params => ['-U', 'ci_ingest']);
	is($src . ' ' . join(',', split(/\n/, $sout)), '0 200,200,200,200,1',
	   'the SDK calls and an OTLP export through the coordinator run single-shard queries only') or diag($serr);

	# by account (prefactor_sdk_call, as the gateway calls it; OTLP too):
	# Citus delegates each call whole to the account's worker, one statement
	# per call
	($src, $sout, $serr) = $coord->psql('postgres', qq{
SELECT prefactor.prefactor_token_account('$token') AS acct \\gset
SET citus.log_remote_commands = on;
SELECT a.body->'details'->>'id' AS run
  FROM prefactor.prefactor_sdk_call(:'acct', 'register', '$token', NULL, '{"agent_version": {"external_identifier": "v1"}}') a \\gset
SELECT a.http_status FROM prefactor.prefactor_sdk_call(:'acct', 'start', '$token', :'run', '{}') a;
SELECT a.http_status FROM prefactor.prefactor_sdk_call(:'acct', 'create_span', '$token', NULL, ('{"details": {"agent_instance_id": "'
	|| :'run' || '", "schema_name": "lookup", "status": "complete", "payload": {"span_id": "by-account-1", "inputs": {"q": "x"}}}}')::jsonb) a;
SELECT a.http_status FROM prefactor.prefactor_sdk_call(:'acct', 'finish', '$token', :'run', '{"status": "complete"}') a;
SELECT a.http_status FROM prefactor.prefactor_sdk_call(:'acct', 'otlp_export', '$token', NULL, '{"resourceSpans": [{"resource": {"attributes": [
	{"key": "service.name", "value": {"stringValue": "support-bot"}}]}, "scopeSpans": [{"spans": [
	{"traceId": "2af7651916cd43dd8448eb211c80319c", "spanId": "d7ad6b7169203331", "name": "agent",
	 "startTimeUnixNano": "1767261600000000000", "endTimeUnixNano": "1767261601000000000", "status": {}}]}]}]}') a;
RESET citus.log_remote_commands;
SELECT count(*) FROM prefactor.spans WHERE instance_id = :'run';
}, extra_params => ['-U', 'ci_ingest']);
	my @issued = ($serr =~ /issuing (\S+)/g);
	is($src . ' ' . join(',', split(/\n/, $sout)) . ' ' . join(',', @issued), '0 200,200,200,200,1 '
	   . join(',', ('SELECT') x 5), 'the SDK calls and an OTLP export by account are delegated whole: five calls, five statements to the worker')
	  or diag($serr);
	is(scalar(() = $serr =~ /issuing SELECT [^\n]* FROM prefactor\.prefactor_sdk_call\(/g), 5,
	   'what is sent is each call itself') or diag($serr);

	# the node holding the account's shards, for a client that sends the
	# account's calls there: Citus's placement of the account's shard; none for
	# a role without ingest access to the account
	my $acct = $coord->safe_psql('postgres', qq{SELECT prefactor.prefactor_token_account('$token')});
	my $placed = $coord->safe_psql('postgres', qq{SELECT nodename || ':' || nodeport FROM pg_dist_shard_placement
		WHERE shardid = get_shard_id_for_distribution_column('prefactor.instances', '$acct'::prefactor.pfid)});
	is($coord->safe_psql('postgres', qq{SELECT node_name || ':' || node_port FROM prefactor.prefactor_account_node('$acct')},
						 extra_params => ['-U', 'ci_ingest']),
	   $placed, 'prefactor_account_node names the node holding the account\'s shards');
	is($coord->safe_psql('postgres', qq{SELECT count(*) FROM prefactor.prefactor_account_node('$acct')},
						 extra_params => ['-U', 'ci_other']),
	   '0', 'and nothing to a role without ingest access to the account');

	# on the account's worker the SDK body's queries of the account's rows run
	# in its shard scope (src/api/account_query.c), as the span calls do:
	# Citus runs none of a span's queries as a local shard command of its own
	my ($acct_port) = $placed =~ /:(\d+)$/;
	my ($acct_worker) = grep { $_->port == $acct_port } @workers;
	($src, $sout, $serr) = $acct_worker->psql('postgres', qq{
SELECT a.body->'details'->>'id' AS run
  FROM prefactor.prefactor_sdk_call('$acct', 'register', '$token', NULL, '{"agent_version": {"external_identifier": "v1"}}') a \\gset
SELECT a.http_status FROM prefactor.prefactor_sdk_call('$acct', 'start', '$token', :'run', '{}') a;
SET citus.log_local_commands = on;
SELECT a.http_status FROM prefactor.prefactor_sdk_call('$acct', 'create_span', '$token', NULL, ('{"details": {"agent_instance_id": "'
	|| :'run' || '", "schema_name": "lookup", "status": "complete", "payload": {"span_id": "scoped-1", "inputs": {"q": "x"}}}}')::jsonb) a;
SELECT a.http_status FROM prefactor.prefactor_sdk_call('$acct', 'create_span', '$token', NULL, ('{"details": {"agent_instance_id": "'
	|| :'run' || '", "schema_name": "lookup", "status": "complete", "payload": {"span_id": "scoped-1", "inputs": {"q": "x"}}}}')::jsonb) a;
RESET citus.log_local_commands;
SELECT count(*) FROM prefactor.sdk_spans WHERE instance_id = :'run';
}, extra_params => ['-U', 'ci_ingest', '-At']);
	my @local = ($serr =~ /executing the command locally: ([^\n]*)/g);
	is($src . ' ' . join(',', split(/\n/, $sout)) . ' ' . scalar(grep { /prefactor\.(spans|sdk_spans|instances|ingest_tokens)_\d+/ } @local),
	   '0 200,200,200,1 0', 'on the account\'s worker an SDK span and its retry run in the shard scope: no local shard command')
	  or diag($serr);
}

# prefactor-gateway pointed at the coordinator, as the ingest login role, its
# sessions refusing any query over several shards: a run recorded through it
# by HTTP takes single-shard queries only, and its calls by account are
# delegated whole (the coordinator never runs prefactor_sdk_call itself: its
# count stays 0 with track_functions = all; its one lookup of the token's
# account runs there). PREFACTOR_GATEWAY: the gateway (test/suites/citus).
SKIP:
{
	my $gw = $ENV{PREFACTOR_GATEWAY};
	skip 'prefactor-gateway is not built (PREFACTOR_GATEWAY)', 4 unless $gw && -x $gw;
	my $token = $coord->safe_psql('postgres',
		q{SELECT prefactor.prefactor_create_ingest_token('acme', 'support-bot', 'production')});
	$coord->safe_psql('postgres', q{ALTER ROLE ci_ingest SET track_functions = 'all'});
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my ($gout, $gerr) = ('', '');
	my $gateway = IPC::Run::start([ $gw, '--port', $port, '--pool-size', '2', '--db',
		sprintf(q{host=%s port=%d dbname=postgres user=ci_ingest options='-c citus.multi_task_query_log_level=error'},
				$coord->host, $coord->port) ], '>', \$gout, '2>', \$gerr);
	my $url = "http://127.0.0.1:$port";
	# post <path> <body>: "status body"
	my $post = sub {
		my ($path, $body) = @_;
		my ($out, $err) = ('', '');
		IPC::Run::run([ 'curl', '-s', '-w', ' %{http_code}', '-X', 'POST', '-H', 'Content-Type: application/json',
						'-H', "Authorization: Bearer $token", '--data-binary', $body, "$url$path" ], '>', \$out, '2>', \$err);
		my ($answer, $code) = $out =~ /^(.*) (\d{3})$/s;
		return ($code // '000', $answer // '');
	};
	for (1 .. 100)
	{
		my ($out, $err) = ('', '');
		IPC::Run::run([ 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', "$url/healthz" ], '>', \$out, '2>', \$err);
		last if $out eq '200';
		select(undef, undef, undef, 0.1);
	}
	my @codes;
	my ($code, $answer) = $post->('/api/v1/agent_instance/register', '{"agent_version": {"external_identifier": "v1"}}');
	push @codes, $code;
	my ($run) = $answer =~ /"id": "([0-7][0-9a-z]{31})"/;
	$run //= 'none';
	push @codes, ($post->("/api/v1/agent_instance/$run/start", '{}'))[0];
	push @codes, ($post->('/api/v1/agent_spans', qq{{"details": {"agent_instance_id": "$run", "schema_name": "lookup",
		"status": "complete", "payload": {"span_id": "gateway-1", "inputs": {"q": "x"}}}}}))[0];
	push @codes, ($post->("/api/v1/agent_instance/$run/finish", '{"status": "complete"}'))[0];
	# SIGTERM: the gateway closes its sessions, which report their counts as they end
	$gateway->signal('TERM');
	$gateway->finish;
	$coord->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'prefactor-gateway'});
	$coord->safe_psql('postgres', q{ALTER ROLE ci_ingest RESET track_functions});
	is(join(',', @codes) . ' ' . $coord->safe_psql('postgres',
		qq{SELECT count(*) FROM prefactor.spans WHERE instance_id = '$run'}, extra_params => ['-U', 'ci_ingest']),
	   '200,200,200,200 1', 'a run through prefactor-gateway on the coordinator takes single-shard queries only')
	  or diag($gerr);
	is($coord->safe_psql('postgres', q{
		SELECT coalesce(sum(calls) FILTER (WHERE funcname = 'prefactor_sdk_call'), 0) || ' ' ||
			coalesce(sum(calls) FILTER (WHERE funcname = 'prefactor_token_account'), 0) || ' ' ||
			coalesce(sum(calls) FILTER (WHERE funcname LIKE 'prefactor\_sdk\_%' AND funcname <> 'prefactor_sdk_call'), 0)
		  FROM pg_stat_user_functions WHERE schemaname = 'prefactor'}),
	   '0 1 0', 'its calls by account are delegated (none ran on the coordinator), the token\'s account looked up once');

	# with --route-by-node the gateway sends the account's calls to the node
	# holding its shards itself: its connections are there, on no other worker
	my ($node_host, $node_port) = split /\|/, $coord->safe_psql('postgres', qq{
		SELECT n.node_name || '|' || n.node_port FROM prefactor.prefactor_account_node(prefactor.prefactor_token_account('$token')) n},
		extra_params => ['-U', 'ci_ingest']);
	$port = PostgreSQL::Test::Cluster::get_free_port();
	$gateway = IPC::Run::start([ $gw, '--port', $port, '--pool-size', '2', '--route-by-node', '--db',
		sprintf(q{host=%s port=%d dbname=postgres user=ci_ingest options='-c citus.multi_task_query_log_level=error'},
				$coord->host, $coord->port) ], '>', \$gout, '2>', \$gerr);
	$url = "http://127.0.0.1:$port";
	for (1 .. 100)
	{
		my ($out, $err) = ('', '');
		IPC::Run::run([ 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', "$url/healthz" ], '>', \$out, '2>', \$err);
		last if $out eq '200';
		select(undef, undef, undef, 0.1);
	}
	@codes = ();
	($code, $answer) = $post->('/api/v1/agent_instance/register', '{"agent_version": {"external_identifier": "v1"}}');
	push @codes, $code;
	($run) = $answer =~ /"id": "([0-7][0-9a-z]{31})"/;
	$run //= 'none';
	push @codes, ($post->("/api/v1/agent_instance/$run/start", '{}'))[0];
	push @codes, ($post->('/api/v1/agent_spans', qq{{"details": {"agent_instance_id": "$run", "schema_name": "lookup",
		"status": "complete", "payload": {"span_id": "by-node-1", "inputs": {"q": "x"}}}}}))[0];
	push @codes, ($post->("/api/v1/agent_instance/$run/finish", '{"status": "complete"}'))[0];
	push @codes, ($post->('/v1/traces', '{"resourceSpans": [{"resource": {"attributes": [
		{"key": "service.name", "value": {"stringValue": "support-bot"}}]}, "scopeSpans": [{"spans": [
		{"traceId": "3af7651916cd43dd8448eb211c80319c", "spanId": "e7ad6b7169203331", "name": "agent",
		 "startTimeUnixNano": "1767261600000000000", "endTimeUnixNano": "1767261601000000000", "status": {}}]}]}]}'))[0];
	my @there = map {
		$_->port . '=' . $_->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'prefactor-gateway' AND usename = 'ci_ingest'})
	} @workers[0, 1];
	$gateway->signal('TERM');
	$gateway->finish;
	is(join(',', @codes) . ' ' . $coord->safe_psql('postgres',
		qq{SELECT count(*) FROM prefactor.spans WHERE instance_id = '$run'}, extra_params => ['-U', 'ci_ingest']),
	   '200,200,200,200,200 1', 'a run and an OTLP export through prefactor-gateway --route-by-node') or diag($gerr);
	is(join(',', map { /^(\d+)=(\d+)$/ ? ($1 == $node_port ? ($2 > 0 ? 'node' : 'none on node') : ($2 == 0 ? 'other' : 'on other')) : $_ } @there),
	   join(',', map { $_->port == $node_port ? 'node' : 'other' } @workers[0, 1]),
	   "its connections are on the account's node ($node_port) and on no other worker") or diag(join(' ', @there));
}

# A client on the account's worker: its span calls run there in the account's
# shard scope, where the guard sends the level-rise alert to the coordinator
# when the transaction commits. An alert of a subtransaction rolled back is
# never sent, as its notification would not be on a single node.
{
	my $acme_port = $coord->safe_psql('postgres', q{
		SELECT nodeport FROM pg_dist_shard_placement
		 WHERE shardid = get_shard_id_for_distribution_column('prefactor.instances',
			   (SELECT account_id FROM prefactor.accounts WHERE name = 'acme'))});
	my ($acme_worker) = grep { $_->port == $acme_port } @workers;
	# a DBA's AFTER INSERT trigger that sends a relcache invalidation in the middle of each span
	# call: the call keeps its shard scope, so its alert is still sent once
	$coord->safe_psql('postgres', q{
		CREATE FUNCTION public.analyze_after_span() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
			SET search_path = pg_catalog AS $$
		BEGIN
			CREATE TEMP TABLE IF NOT EXISTS span_scratch (x int);
			ALTER TABLE span_scratch SET (fillfactor = 90);
			PERFORM 1;
			RETURN NULL;
		END $$;
		CREATE TRIGGER zz_analyze_after_span AFTER INSERT ON prefactor.spans
			FOR EACH ROW EXECUTE FUNCTION public.analyze_after_span();
	});
	my $listener = $coord->background_psql('postgres', extra_params => ['-U', 'ci_reader']);
	$listener->query_safe('LISTEN prefactor_risk');
	my ($wrc, $wout, $werr) = $acme_worker->psql('postgres', q{
		SET search_path = prefactor, public;
		SELECT prefactor_start_run('acme', 'support-bot', 'production', NULL, NULL) AS r \gset
		SELECT 'run=' || :'r';
		SELECT terminate FROM prefactor_record_span(:'r', 'lookup', '{"q": "12 points, low"}');
		BEGIN;
		SAVEPOINT a;
		SELECT terminate FROM prefactor_record_span(:'r', 'lookup', '{"q": "24 points, medium, rolled back"}');
		ROLLBACK TO SAVEPOINT a;
		COMMIT;
		SELECT 'score=' || risk_score FROM instances WHERE id = :'r';
		SELECT terminate FROM prefactor_record_span(:'r', 'lookup', '{"q": "24 points, medium"}');
	}, extra_params => ['-U', 'ci_ingest', '-At']);
	is($wrc, 0, 'span calls on the account\'s worker succeed') or diag($werr);
	my ($run) = $wout =~ /^run=(\S+)$/m;
	my ($score_after_rollback) = $wout =~ /^score=(\S+)$/m;
	is($score_after_rollback, '12', 'the rolled-back span added nothing');
	my $heard = $listener->query_safe('SELECT 1');
	my @alerts = grep { /"instance": "\Q$run\E"/ } split /\n/, $heard;
	is(scalar(@alerts), 1, 'one alert of the worker\'s run reaches the LISTEN on the coordinator')
	  or diag($heard);
	like($alerts[0] // '', qr/"score": 24, "level": "medium", "terminated": false/, 'the alert is the committed rise to medium');
	$listener->quit;
	$coord->safe_psql('postgres', q{
		DROP TRIGGER zz_analyze_after_span ON prefactor.spans;
		DROP FUNCTION public.analyze_after_span();
	});
}

# Parallel tool calls: four clients of the ingest role record spans into one run through the
# coordinator at once (each call delegated to the account's worker, which locks, scores and writes
# in the account's shards directly). No point is lost: the run's score is exact.
{
	my $run = $coord->safe_psql('postgres', q{SELECT prefactor.prefactor_start_run('acme', 'support-bot',
		'production', NULL, NULL)}, extra_params => ['-U', 'ci_ingest']);
	my $script = "$PostgreSQL::Test::Utils::tmp_check/parallel_spans.pgbench";
	PostgreSQL::Test::Utils::append_to_file($script,
		qq{SELECT terminate FROM prefactor.prefactor_record_span(':run', 'lookup', '{"q": "parallel"}');\n});
	my ($out, $err) = ('', '');
	IPC::Run::run(['pgbench', '-n', '-c', '4', '-j', '4', '-t', '25', '-D', "run=$run", '-f', $script,
				   '-h', $coord->host, '-p', $coord->port, '-U', 'ci_ingest', 'postgres'], '>', \$out, '2>', \$err);
	like($out, qr/number of failed transactions: 0/, 'four clients record 100 spans into one run at once')
	  or diag($out . $err);
	# the live score is exact in instance_summary; the run row holds the score of its last rise
	# (critical at the ninth span, 108) until the run ends
	is($coord->safe_psql('postgres', qq{
		SELECT spans || ' ' || risk_score || ' ' || risk_level FROM prefactor.instance_summary
		 WHERE instance_id = '$run'}, extra_params => ['-U', 'ci_reader']),
	   '100 1200 critical', 'each span adds its 12 points: the live score is 1200, critical');
	$coord->safe_psql('postgres', qq{SELECT prefactor.prefactor_finish_run('$run')}, extra_params => ['-U', 'ci_ingest']);
	is($coord->safe_psql('postgres', qq{SELECT risk_score || ' ' || status FROM prefactor.instances WHERE id = '$run'},
						 extra_params => ['-U', 'ci_reader']),
	   '1200 complete', 'the finished run stores the final score, 1200');
}

# the risk aggregates grouped across accounts: partial aggregates on the workers, combined on the coordinator
like($coord->safe_psql('postgres', q{
	EXPLAIN (VERBOSE, COSTS OFF) SELECT s.span_type, prefactor.risk_score(s.span_type_id, s.risk_profile_revision_id),
		   prefactor.risk_breakdown(s.span_type_id, s.risk_profile_revision_id)
	  FROM prefactor.spans s GROUP BY s.span_type}),
	 qr/coord_combine_agg.*worker_partial_agg\('prefactor\.risk_score/s,
	 'risk_score and risk_breakdown across accounts are pushed down as partial aggregates');

# every table's row count and digest, in key order
my $fingerprint_sql = q{
SELECT string_agg(format('%s %s %s', t.rel, t.n, t.digest), E'\n' ORDER BY t.rel)
  FROM (SELECT c.relname AS rel,
               (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM prefactor.%I', c.relname), false, true, '')))[1]::text AS n,
               (xpath('/row/d/text()', query_to_xml(format(
                   'SELECT md5(coalesce(string_agg(x::text, %L ORDER BY x::text), %L)) AS d FROM prefactor.%I x',
                   ',', '', c.relname), false, true, '')))[1]::text AS digest
          FROM pg_extension e CROSS JOIN LATERAL unnest(e.extconfig) AS cfg(relid) JOIN pg_class c ON c.oid = cfg.relid
         WHERE e.extname = 'prefactor' AND c.relkind = 'r') t};
my $before = $coord->safe_psql('postgres', $fingerprint_sql);

# a third worker, and the shards rebalanced onto it
push @workers, new_node('worker3', 1);
$coord->safe_psql('postgres', sprintf(q{SELECT citus_add_node('%s', %d)}, $workers[2]->host, $workers[2]->port));
($rc, $out, $err) = $coord->psql('postgres', 'SELECT citus_rebalance_start(); SELECT citus_rebalance_wait();',
	timeout => 300, timed_out => \my $rebalance_timed_out);
diag('the rebalance did not finish within 300 s') if $rebalance_timed_out;
is($rc, 0, 'rebalancing onto a third worker succeeds') or diag($err);
ok($coord->safe_psql('postgres', sprintf(q{
	SELECT count(*) FROM pg_dist_shard_placement p JOIN pg_dist_shard s USING (shardid)
	  JOIN pg_dist_partition d USING (logicalrelid) WHERE p.nodeport = %d AND d.partmethod = 'h'}, $workers[2]->port)) > 0,
   'the third worker holds shards');
is($coord->safe_psql('postgres', $fingerprint_sql), $before, 'every row is kept by the rebalance (counts and digests)');

# every rule still holds, and the API still works, after the move
my $after_sql = "$PostgreSQL::Test::Utils::tmp_check/after.sql";
PostgreSQL::Test::Utils::append_to_file($after_sql, <<'SQL');
\set ON_ERROR_STOP 1
\set VERBOSITY terse
SET search_path = prefactor, public;
\c - ci_ingest
SELECT prefactor_start_run('acme', 'support-bot', 'production', NULL, NULL) AS r \gset
SELECT terminate FROM prefactor_record_span(:'r', 'lookup', '{"q": "after"}');
SELECT terminate FROM prefactor_record_span(:'r', 'lookup', '{"bad": "after"}');
SELECT prefactor_finish_run(:'r') AS finished;
\set ON_ERROR_STOP 0
SELECT terminate FROM prefactor_record_span(:'r', 'lookup', '{"q": "late"}');
INSERT INTO spans (account_id, instance_id, span_type) SELECT account_id, id, 'x' FROM instances WHERE id = :'r';
\set ON_ERROR_STOP 1
\c - ci_reader
SELECT spans, schema_mismatches, risk_score, risk_level FROM instance_summary WHERE instance_id = :'r';
\c - ci_other
SELECT count(*) AS acme_spans_seen FROM spans s JOIN accounts a ON a.account_id = s.account_id WHERE a.name = 'acme';
SQL
my $after_expected = <<'OUT';
 terminate 
-----------
 f
(1 row)

 terminate 
-----------
 f
(1 row)

 finished 
----------
 complete
(1 row)

 spans | schema_mismatches | risk_score | risk_level 
-------+-------------------+------------+------------
     2 |                 1 |         24 | medium
(1 row)

 acme_spans_seen 
-----------------
               0
(1 row)

OUT
for my $step ('after the rebalance', 'after isolating an account')
{
	if ($step eq 'after isolating an account')
	{
		# a column added and dropped first: the new shards are made without it,
		# so their rows' layout differs from the tables' row types (below)
		$coord->safe_psql('postgres', join('', map { qq{
			ALTER TABLE prefactor.$_ ADD COLUMN dropped_before_isolation int;
			ALTER TABLE prefactor.$_ DROP COLUMN dropped_before_isolation;} } qw(instances spans ingest_tokens)));
		($rc, $out, $err) = $coord->psql('postgres', q{
			SELECT isolate_tenant_to_new_shard('prefactor.spans', (SELECT account_id FROM prefactor.accounts WHERE name = 'acme'),
											   'CASCADE', shard_transfer_mode => 'block_writes')});
		is($rc, 0, 'an account is isolated to shards of its own') or diag($err);
		is($coord->safe_psql('postgres', $fingerprint_sql), $before, 'every row is kept by the isolation');
	}
	my ($src, $sout, $serr) = (0, '', '');
	my @cmd = ('psql', '-X', '-q', '-h', $coord->host, '-p', $coord->port, '-d', 'postgres', '-f', $after_sql);
	IPC::Run::run(\@cmd, '>', \$sout, '2>', \$serr);
	is($? >> 8, 0, "runs are recorded $step") or diag($serr);
	is($sout, $after_expected, "views, risk and access answer as before $step");
	like($serr, qr/ERROR:  instance \S+ is complete|is complete/, "a finished run takes no span $step");
	like($serr, qr/ERROR:  .*\n.*ERROR:  /s, "a plain INSERT into a finished run is refused $step");
	$before = $coord->safe_psql('postgres', $fingerprint_sql);
}

# The SDK by account on the isolated account: its token, run and span rows are
# read by key from the new shards, made without the column dropped before
# (a trailing one, which a row read as the table's type does without; one
# dropped between columns would need the mapping by name account_query.c makes)
{
	my $token = $coord->safe_psql('postgres',
		q{SELECT prefactor.prefactor_create_ingest_token('acme', 'support-bot', 'production')});
	my ($src, $sout, $serr) = $coord->psql('postgres', qq{
SELECT prefactor.prefactor_token_account('$token') AS acct \\gset
SELECT a.body->'details'->>'id' AS run
  FROM prefactor.prefactor_sdk_call(:'acct', 'register', '$token', NULL, '{"agent_version": {"external_identifier": "v1"}}') a \\gset
SELECT a.http_status FROM prefactor.prefactor_sdk_call(:'acct', 'start', '$token', :'run', '{}') a;
SELECT a.http_status, a.body->'details'->>'agent_instance_id' = :'run' AS in_run
  FROM prefactor.prefactor_sdk_call(:'acct', 'create_span', '$token', NULL, ('{"details": {"agent_instance_id": "'
	|| :'run' || '", "schema_name": "lookup", "status": "complete", "payload": {"span_id": "after-isolation", "inputs": {"q": "x"}}}}')::jsonb) a;
SELECT a.http_status FROM prefactor.prefactor_sdk_call(:'acct', 'finish', '$token', :'run', '{"status": "complete"}') a;
}, extra_params => ['-U', 'ci_ingest', '-At']);
	is($src . ' ' . join(',', split(/\n/, $sout)), '0 200,200|t,200',
	   'SDK calls on the isolated account read its rows by key from its new shards') or diag($serr);
}

# pg_dump of the coordinator
my $dump = "$PostgreSQL::Test::Utils::tmp_check/coordinator.dump";
($rc, $out, $err) = (0, '', '');
IPC::Run::run(['pg_dump', '-Fc', '-h', $coord->host, '-p', $coord->port, '-d', 'postgres', '-f', $dump], '2>', \$err);
is($? >> 8, 0, 'pg_dump of the coordinator succeeds') or diag($err);

$_->stop for ($plain, $coord, @workers);
done_testing();
