// Records a run through prefactor's SQL API with the pg package, the way an application would,
// then checks what the views show. Connects with the usual PG* variables.
'use strict';
const { Client } = require('pg');

const ACCOUNT = 'example-node';
const SCHEMA = {
  external_identifier: 'faq-1',
  span_type_schemas: [
    { name: 'faq:answer', params_schema: { type: 'object', required: ['question'] } },
    {
      name: 'llm',
      params_schema: { type: 'object', required: ['model', 'messages'] },
      result_schema: { type: 'object', required: ['output'] },
    },
    {
      name: 'tool:search',
      params_schema: { type: 'object', required: ['query'], additionalProperties: false },
      data_risk: {
        action_profile: { external_communication: 'allowed' },
        params_data_categories: { classification: 'public' },
      },
    },
  ],
};

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok' : 'not ok'} - ${what}`);
  if (!ok) failures += 1;
}

async function main() {
  const client = new Client({ options: '-c search_path=prefactor,public' });
  await client.connect();
  // One row of one call; JSON arguments are sent as text and cast by the function signature.
  const one = async (sql, args) => (await client.query(sql, args)).rows[0];
  const json = (v) => JSON.stringify(v);
  try {
    await one('SELECT prefactor.prefactor_create_account($1)', [ACCOUNT]);
    await one('SELECT prefactor.prefactor_create_environment($1, $2)', [ACCOUNT, 'production']);
    await one('SELECT prefactor.prefactor_register_agent($1, $2, $3)', [ACCOUNT, 'faq-bot', 'Answers product questions']);

    const version = json({ external_identifier: 'v1.0.0', name: 'FAQ bot' });
    const { id: run } = await one(
      'SELECT prefactor.prefactor_start_run($1, $2, $3, $4, $5, idempotency_key => $6) AS id',
      [ACCOUNT, 'faq-bot', 'production', version, json(SCHEMA), 'node-run-1']);

    const root = await one('SELECT * FROM prefactor.prefactor_start_span($1, $2, $3)',
      [run, 'faq:answer', json({ question: 'Does it run offline?' })]);
    check(root.terminate === false, 'start_span: no terminate signal');
    // deliberately "q" instead of the declared "query": a schema mismatch; sent again with the same
    // key and times, as a client retries after a lost answer
    const startedAt = new Date();
    const finishedAt = new Date(startedAt.getTime() + 120);
    const searchArgs = [run, 'tool:search', json({ q: 'offline mode' }), json({ hits: 2 }), root.span_id,
      startedAt.toISOString(), finishedAt.toISOString(), 'node-search-1'];
    const searchSql = `SELECT * FROM prefactor.prefactor_record_span($1, $2, $3, $4, parent_span => $5,
                         started_at => $6, finished_at => $7, idempotency_key => $8)`;
    const first = await one(searchSql, searchArgs);
    const retry = await one(searchSql, searchArgs);
    check(first.span_id === retry.span_id, 'record_span retried with its idempotency key stores one span');
    await one('SELECT * FROM prefactor.prefactor_record_span($1, $2, $3, $4, parent_span => $5)',
      [run, 'llm', json({ model: 'small-1', messages: [{ role: 'user', content: 'Does it run offline?' }] }),
        json({ output: 'Yes, after the first sync.' }), root.span_id]);
    await one("SELECT * FROM prefactor.prefactor_finish_span($1, 'complete', $2)",
      [root.span_id, json({ answer: 'Yes, after the first sync.' })]);
    const { s: status } = await one("SELECT prefactor.prefactor_finish_run($1, 'complete') AS s", [run]);
    check(status === 'complete', 'finish_run: complete');

    // bigint counts arrive as strings from pg
    const s = await one('SELECT * FROM prefactor.instance_summary WHERE instance_id = $1', [run]);
    check(s.status === 'complete' && s.version === 'v1.0.0' && s.schema_version === 1 && s.environment === 'production',
      'instance_summary: complete, v1.0.0, schema version 1, production');
    check(s.spans === '3' && s.spans_complete === '3', 'instance_summary: 3 complete spans');
    check(s.schema_mismatches === '1', `instance_summary: 1 schema mismatch (got ${s.schema_mismatches})`);

    const timeline = (await client.query('SELECT * FROM prefactor.prefactor_span_timeline($1)', [run])).rows;
    check(JSON.stringify(timeline.map((t) => t.depth)) === '[0,1,1]', 'timeline: a root and two children');
    const search = timeline.filter((t) => t.span_type === 'tool:search');
    check(search.length === 1 && search[0].path === 'faq:answer > tool:search' && search[0].conformance === 'mismatch',
      'timeline: the search under the answer is a mismatch');

    const c = await one(`SELECT * FROM prefactor.schema_conformance
                          WHERE account_id = prefactor.resolve_account($1) AND span_type = 'tool:search'`, [ACCOUNT]);
    check(c !== undefined && c.spans === '1' && c.mismatches === '1', 'schema_conformance: tool:search 1 of 1 mismatched');
    const v = await one('SELECT * FROM prefactor.version_history WHERE account_id = prefactor.resolve_account($1)', [ACCOUNT]);
    check(v.version === 'v1.0.0' && v.schema_identifier === 'faq-1' && v.runs === '1',
      'version_history: v1.0.0 paired with faq-1, 1 run');
  } finally {
    await client.end();
  }
  return failures ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => {
  console.log(`not ok - ${err.message}`);
  process.exit(1);
});
