# Crash recovery: while several ingest clients record runs, the server is
# stopped in immediate mode (no checkpoint, no clean shutdown) and restarted.
# Every run and span whose commit a client saw must be there and consistent,
# and recording must continue.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(sleep);

my $clients = 4;
my $iterations = 100000;	# far more than fit before the crash

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION prefactor;
	SELECT prefactor.prefactor_create_account('acme');
	SELECT prefactor.prefactor_create_environment('acme', 'production');
	SELECT prefactor.prefactor_register_agent('acme', 'bot');
	CREATE ROLE tap_ingest LOGIN;
	SELECT prefactor.prefactor_grant_access('acme', 'tap_ingest', 'ingest');
	ALTER DATABASE postgres SET search_path = prefactor, public;
});
my $token = $node->safe_psql('postgres',
	q{SELECT prefactor.prefactor_create_ingest_token('acme', 'bot', 'production')});
like($token, qr/^pft_[0-7][0-9a-z]{31}_[0-9a-f]{64}$/, 'ingest token created');

# Each client is one psql session running a script; it echoes an id only after
# the statement that wrote it returned, i.e. after its commit was acknowledged.
my $script = "$PostgreSQL::Test::Utils::tmp_check/client.sql";
open my $fh, '>', $script or die "cannot write $script: $!";
print $fh "\\set ON_ERROR_STOP 1\n";
for my $i (1 .. $iterations)
{
	print $fh <<"SQL";
SELECT prefactor.prefactor_start_run('$token', '{"external_identifier": "v1"}', '{"span_type_schemas": [{"name": "llm"}]}') AS run \\gset
\\echo run :run
SELECT (prefactor.prefactor_record_span(:'run', 'llm', '{"i": $i}')).span_id AS span \\gset
\\echo span :run :span
SELECT (prefactor.prefactor_start_span(:'run', 'tool', '{"i": $i}')).span_id AS open_span \\gset
\\echo span :run :open_span
SELECT prefactor.prefactor_finish_run(:'run') AS status \\gset
\\echo finished :run :status
SQL
}
close $fh;

my $connstr = $node->connstr('postgres') . ' user=tap_ingest';
my (@harness, @outputs);
for my $c (0 .. $clients - 1)
{
	my $out = "$PostgreSQL::Test::Utils::tmp_check/client$c.out";
	push @outputs, $out;
	push @harness, IPC::Run::start(
		[ 'psql', '-X', '-q', '-A', '-t', '-d', $connstr, '-f', $script ],
		'<', \undef, '>', $out, '2>', "$out.err");
}

# Let them record for a while, then crash the server under them.
sleep(4);
$node->stop('immediate');
$_->finish for @harness;

# What the clients saw committed.
my (%runs, %spans, %finished);
for my $out (@outputs)
{
	open my $in, '<', $out or die "cannot read $out: $!";
	while (my $line = <$in>)
	{
		chomp $line;
		my @f = split / /, $line;
		if ($f[0] eq 'run') { $runs{ $f[1] } = 1; }
		elsif ($f[0] eq 'span') { $spans{ $f[2] } = $f[1]; }
		elsif ($f[0] eq 'finished') { $finished{ $f[1] } = $f[2]; }
	}
	close $in;
}
cmp_ok(scalar(keys %runs), '>', 10, 'clients recorded runs before the crash (' . scalar(keys %runs) . ')');
cmp_ok(scalar(keys %spans), '>', 10, 'clients recorded spans before the crash (' . scalar(keys %spans) . ')');

$node->start;

# Load what the clients saw into the database and compare there.
my $seen = join(",\n", (map { "('run', '$_', NULL, NULL)" } keys %runs),
	(map { "('span', '$_', '$spans{$_}', NULL)" } keys %spans),
	(map { "('finished', '$_', NULL, '$finished{$_}')" } keys %finished));
$node->safe_psql('postgres', "CREATE TABLE seen (kind text, id text, run text, status text); INSERT INTO seen VALUES $seen;");

is($node->safe_psql('postgres', q{
	SELECT count(*) FROM seen s WHERE s.kind = 'run'
	   AND NOT EXISTS (SELECT 1 FROM prefactor.instances i WHERE i.id::text = s.id)}),
	'0', 'every acknowledged run is present');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM seen s WHERE s.kind = 'span'
	   AND NOT EXISTS (SELECT 1 FROM prefactor.spans x WHERE x.id::text = s.id AND x.instance_id::text = s.run)}),
	'0', 'every acknowledged span is present, in its run');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM seen s WHERE s.kind = 'finished'
	   AND NOT EXISTS (SELECT 1 FROM prefactor.instances i WHERE i.id::text = s.id AND i.status = s.status
					   AND i.status = 'complete' AND i.finished_at >= i.started_at)}),
	'0', 'every acknowledged finish is present');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM prefactor.spans s
	 WHERE NOT EXISTS (SELECT 1 FROM prefactor.instances i WHERE i.account_id = s.account_id AND i.id = s.instance_id)}),
	'0', 'no span without its run');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM prefactor.instances i
	  JOIN prefactor.agents g ON g.account_id = i.account_id AND g.id = i.agent_id AND g.name = 'bot'
	  JOIN prefactor.environments e ON e.account_id = i.account_id AND e.id = i.environment_id AND e.name = 'production'
	  JOIN prefactor.agent_versions v ON v.account_id = i.account_id AND v.id = i.version_id AND v.external_identifier = 'v1'
	  JOIN prefactor.activity_schema_versions sv ON sv.account_id = i.account_id AND sv.id = i.schema_version_id
	   AND sv.id = v.schema_version_id AND sv.number = 1
	 WHERE i.started_at IS NOT NULL AND i.registered_at IS NOT NULL}),
	$node->safe_psql('postgres', 'SELECT count(*) FROM prefactor.instances'),
	'every run keeps its stamps: agent, environment, version, schema version, times');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM prefactor.spans s JOIN prefactor.instances i ON i.account_id = s.account_id AND i.id = s.instance_id
	 WHERE i.status = 'complete' AND (s.status IN ('pending', 'active') OR s.finished_at IS NULL)}),
	'0', 'finished runs have no open spans');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM prefactor.agent_versions}), '1', 'one version, however many clients raced to create it');

# Recording continues after the restart.
my $after = $node->safe_psql('postgres', qq{
	SELECT prefactor.prefactor_start_run('$token', '{"external_identifier": "v1"}', '{"span_type_schemas": [{"name": "llm"}]}') AS run \\gset
	SELECT (prefactor.prefactor_record_span(:'run', 'llm', '{}')).terminate;
	SELECT prefactor.prefactor_finish_run(:'run');
}, connstr => $connstr);
is($after, "f\ncomplete", 'recording continues after the restart');

$node->stop;
done_testing();
