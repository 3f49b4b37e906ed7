#!/bin/bash
# Writes the pgbench scripts: one run = start + 20 spans (start and finish,
# ~1 KB payload and result each) + finish, through the API (governed: the span
# type is validated and scores under the agent's risk profile; api.pgbench
# names the account, api-account-id.pgbench gives its id) and as plain SQL.
set -eu
out=${1:-.}
filler=$(printf 'x%.0s' $(seq 1 800))
payload="{\"model\": \"gpt-4o\", \"messages\": [{\"role\": \"user\", \"content\": \"$filler\"}], \"temperature\": 0.2}"
result="{\"output\": \"$filler\", \"usage\": {\"prompt_tokens\": 812, \"completion_tokens\": 64}}"
schema='{"external_identifier": "bench-s1", "span_type_schemas": [{"name": "llm", "params_schema": {"type": "object", "required": ["model", "messages"], "properties": {"model": {"type": "string"}, "messages": {"type": "array", "items": {"type": "object", "required": ["role", "content"], "properties": {"role": {"enum": ["system", "user", "assistant"]}, "content": {"type": "string"}}}}, "temperature": {"type": "number", "minimum": 0, "maximum": 2}}}, "result_schema": {"type": "object", "required": ["output"], "properties": {"output": {"type": "string"}, "usage": {"type": "object"}}}, "data_risk": {"action_profile": {"read_data": "allowed"}, "params_data_categories": {"classification": "internal", "personal_identifiers": "included"}}}]}'

{
	echo "SELECT prefactor.prefactor_start_run('bench', 'bench-bot', 'production', '{\"external_identifier\": \"v1\"}', '$schema') AS run \\gset"
	for i in $(seq 1 20); do
		echo "SELECT span_id AS span FROM prefactor.prefactor_start_span(':run', 'llm', '$payload') \\gset"
		echo "SELECT terminate FROM prefactor.prefactor_finish_span(':span', 'complete', '$result');"
	done
	echo "SELECT prefactor.prefactor_finish_run(':run');"
} > "$out/api.pgbench"

# the same through the run start that names its account by id (-D acct=<id>):
# on Citus the whole run start is delegated to the account's worker
sed "s/prefactor_start_run('bench',/prefactor_start_run(':acct'::prefactor.pfid,/" "$out/api.pgbench" > "$out/api-account-id.pgbench"

# the relay alone (bench/citus): the run's 42 calls with the same arguments
# (account id, name, 1 KB payload or result) to bench_relay_noop(pfid, text,
# jsonb), a function that does nothing, which bench/citus/run.sh creates and
# Citus delegates like the span calls: what a run costs through the
# coordinator when prefactor's work costs nothing
{
	echo "SELECT bench_relay_noop(':acct'::prefactor.pfid, 'bench-bot', '{\"external_identifier\": \"v1\"}');"
	for i in $(seq 1 20); do
		echo "SELECT bench_relay_noop(':acct'::prefactor.pfid, 'llm', '$payload');"
		echo "SELECT bench_relay_noop(':acct'::prefactor.pfid, 'complete', '$result');"
	done
	echo "SELECT bench_relay_noop(':acct'::prefactor.pfid, 'complete', NULL);"
} > "$out/relay.pgbench"

# the same run through the SDK protocol (-D tok=<ingest token>): register (with the
# schema) and start, 20 spans recorded done, finish; by token, as prefactor-gateway's
# routes name them (sdk.pgbench), and by account (-D acct=<id>) through
# prefactor_sdk_call, which Citus delegates whole to the account's worker (sdk-account.pgbench)
# sdk_call <token|account> <operation> <path id or ''> <body> <what to select> <end>
sdk_call() {
	if [ "$1" = token ]; then
		echo "SELECT (prefactor.prefactor_sdk_$2(':tok', ${3:+$3, }$4)).$5$6"
	else
		echo "SELECT a.$5 FROM prefactor.prefactor_sdk_call(':acct'::prefactor.pfid, '$2', ':tok', ${3:-NULL}, $4) a$6"
	fi
}
for form in token account; do
	span="jsonb_build_object('details', jsonb_build_object('agent_instance_id', ':run', 'schema_name', 'llm', 'status', 'complete', 'payload', '$payload'::jsonb, 'result', '$result'::jsonb, 'started_at', now(), 'finished_at', now()))"
	{
		sdk_call $form register '' "'{\"agent_version\": {\"external_identifier\": \"v1\"}, \"agent_schema_version\": $schema}'" "body->'details'->>'id' AS run" ' \gset'
		sdk_call $form start "':run'" "'{}'" http_status ';'
		for i in $(seq 1 20); do
			sdk_call $form create_span '' "$span" http_status ';'
		done
		sdk_call $form finish "':run'" "'{\"status\": \"complete\"}'" http_status ';'
	} > "$out/$([ $form = token ] && echo sdk || echo sdk-account).pgbench"
done

{
	echo "INSERT INTO baseline_instances (account_id, id, agent_id, version_id, schema_version_id, environment_id, status, started_at) VALUES (':acct', prefactor.pfid_generate(:part), ':agent', ':ver', ':sv', ':env', 'active', now()) RETURNING id AS run \\gset"
	for i in $(seq 1 20); do
		echo "INSERT INTO baseline_spans (account_id, id, instance_id, span_type, status, payload) VALUES (':acct', prefactor.pfid_generate(:part), ':run', 'llm', 'active', '$payload') RETURNING id AS span \\gset"
		echo "UPDATE baseline_spans SET status = 'complete', result = '$result', finished_at = now() WHERE account_id = ':acct' AND id = ':span';"
	done
	echo "UPDATE baseline_instances SET status = 'complete', finished_at = now() WHERE account_id = ':acct' AND id = ':run';"
} > "$out/plain.pgbench"
