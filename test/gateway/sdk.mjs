// Records runs through prefactor-gateway with the official @prefactor/core
// 0.2.9, unchanged, as an instrumented agent would (test/suites/gateway).
//
// Between the SDK and the gateway sits a small HTTP proxy (the fault
// injection of the test; the gateway has no test hooks): it forwards every
// request, logs what was asked and answered, and for one chosen request
// waits for the gateway's whole answer (the SQL call committed) and then
// closes the client's connection without answering, as a lost answer looks
// to the client. The SDK retries the call by itself.
//
// Usage: node sdk.mjs <gateway url> <scenario> <token> [drops]
//   scenario run:      register, start, an agent span holding nested spans (a
//                      tool under an llm span), a failed span, an undeclared
//                      span type, a payload that mismatches its schema, usage;
//                      finish. drops: which answers to drop, as kind:n,...
//                      (kinds register, start, create, finish_span, finish).
//   scenario failed:   a run finished as failed, with a failed agent span, through
//                      the package's own protocol clients (its HttpTransport can
//                      only finish a run as complete).
//   scenario risk:     a run whose agent's risk profile terminates it: four
//                      lookup spans, the last ones sent after the termination.
// Prints one JSON line: {"log": [{method, path, status, id, dropped}], ...}.
import http from 'node:http';
import {
	AgentInstanceClient, AgentSpanClient, HttpClient, HttpTransportConfigSchema,
	createConfig, createCore, withSpan,
} from '@prefactor/core';

const [gatewayUrl, scenario, token, dropArg] = process.argv.slice(2);
const gateway = new URL(gatewayUrl);
// which answers to drop: "create:3,start:1" drops the answer of the third
// span create and of the first run start
const drops = Object.fromEntries((dropArg ?? '').split(',').filter(Boolean)
	.map((d) => { const [kind, n] = d.split(':'); return [kind, Number(n)]; }));
const seen = {};
const log = [];
// the kind of call a path is
function kindOf(method, path) {
	if (method !== 'POST') return 'other';
	if (path === '/api/v1/agent_instance/register') return 'register';
	if (path === '/api/v1/agent_spans') return 'create';
	if (/^\/api\/v1\/agent_spans\/[^/]+\/finish$/.test(path)) return 'finish_span';
	if (/^\/api\/v1\/agent_instance\/[^/]+\/start$/.test(path)) return 'start';
	if (/^\/api\/v1\/agent_instance\/[^/]+\/finish$/.test(path)) return 'finish';
	return 'other';
}

// The proxy: forwards each request to the gateway; drops one answer.
const proxy = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const body = Buffer.concat(chunks);
		const kind = kindOf(req.method, req.url);
		seen[kind] = (seen[kind] ?? 0) + 1;
		const drop = drops[kind] === seen[kind];
		const upstream = http.request({
			host: gateway.hostname, port: gateway.port, method: req.method, path: req.url,
			headers: { ...req.headers, host: gateway.host },
		}, (answer) => {
			const parts = [];
			answer.on('data', (c) => parts.push(c));
			answer.on('end', () => {
				const text = Buffer.concat(parts).toString();
				let id = null;
				let control = null;
				let spanId = null;
				try {
					const json = JSON.parse(text);
					id = json?.details?.id ?? null;
					control = json?.control ?? null;
				} catch { /* not JSON: logged as is below */ }
				try { spanId = JSON.parse(body.toString())?.details?.payload?.span_id ?? null; } catch { /* none */ }
				log.push({ method: req.method, path: req.url, status: answer.statusCode, id, span_id: spanId,
					terminate: control?.terminate ?? false, dropped: drop });
				if (drop) {
					// the call is done in the database; the client never hears of it
					req.socket.destroy();
					return;
				}
				res.writeHead(answer.statusCode, answer.headers);
				res.end(text);
			});
		});
		upstream.on('error', (e) => {
			log.push({ method: req.method, path: req.url, status: 0, error: String(e) });
			req.socket.destroy();
		});
		upstream.end(body);
	});
});
await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
const apiUrl = `http://127.0.0.1:${proxy.address().port}`;

// Fast retries, so that the test does not sleep for seconds; nothing else is configured.
const httpConfig = {
	apiUrl, apiToken: token, agentIdentifier: 'v1.0.0', agentName: 'Gateway test agent',
	initialRetryDelay: 20, maxRetryDelay: 200,
};

const schema = {
	external_identifier: 'gateway-test-1',
	span_type_schemas: [
		{ name: 'agent', params_schema: { type: 'object' } },
		{ name: 'llm', params_schema: { type: 'object', required: ['inputs'],
			properties: { inputs: { type: 'object', required: ['prompt'] } } } },
		{ name: 'tool', params_schema: { type: 'object' } },
	],
};
const riskSchema = {
	external_identifier: 'gateway-risk-1',
	span_type_schemas: [{
		name: 'lookup', params_schema: { type: 'object' },
		data_risk: { action_profile: { read_data: 'allowed' },
			params_data_categories: { personal_identifiers: 'included' } },
	}],
};
const out = {};

if (scenario === 'run') {
	const core = createCore(createConfig({ transportType: 'http', httpConfig: { ...httpConfig, agentSchema: schema } }));
	core.agentManager.startInstance();
	await withSpan({ name: 'agent', spanType: 'agent', inputs: { question: 'what is up?' } }, async () => {
		// the SDK sends an agent span when it starts, but reads the span object
		// when its queue gets to it: wait for that create, so that the span is
		// sent active and finished later (else it is sent complete and its
		// finish answers the harmless 409)
		while (!log.some((e) => e.path === '/api/v1/agent_spans')) {
			await new Promise((resolve) => setTimeout(resolve, 10));
		}
		await withSpan({ name: 'llm', spanType: 'llm', inputs: { prompt: 'plan' } }, async () => {
			await withSpan({ name: 'search', spanType: 'tool', inputs: { query: 'up' } }, async () => ({ hits: 2 }));
			return { text: 'plan made' };
		});
		await withSpan({ name: 'llm', spanType: 'llm', inputs: { prompt: 'answer' } }, async () => {
			throw new Error('model timed out');
		}).catch(() => {});
		await withSpan({ name: 'custom', spanType: 'custom:undeclared', inputs: { x: 1 } }, async () => ({ y: 2 }));
		await withSpan({ name: 'llm', spanType: 'llm', inputs: { no_prompt: true } }, async () => ({ text: '?' }));
		const s = core.tracer.startSpan({ name: 'llm', spanType: 'llm', inputs: { prompt: 'usage' } });
		core.tracer.endSpan(s, { outputs: { text: 'done' },
			tokenUsage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 } });
		return { answer: 42 };
	});
	core.agentManager.finishInstance();
	await core.shutdown();
} else if (scenario === 'failed') {
	const client = new HttpClient(HttpTransportConfigSchema.parse(httpConfig));
	const instances = new AgentInstanceClient(client);
	const spans = new AgentSpanClient(client);
	const run = await instances.register({
		agent_version: { external_identifier: 'v1.0.0', name: 'Gateway test agent', description: '' },
		agent_schema_version: schema,
	});
	const id = run.details.id;
	await instances.start(id);
	const now = () => new Date().toISOString();
	const span = await spans.create({ details: {
		agent_instance_id: id, schema_name: 'agent', status: 'active',
		payload: { span_id: 'failed-agent', trace_id: 'failed-trace', name: 'agent', status: 'active',
			inputs: { question: 'fail' }, outputs: null, metadata: {}, token_usage: null, error: null },
		parent_span_id: null, started_at: now(), finished_at: null,
	} });
	await spans.finish(span.details.id, now(), { status: 'failed',
		result_payload: { error_type: 'Error', message: 'the agent gave up', stacktrace: 'Error: the agent gave up' } });
	await instances.finish(id, { status: 'failed', timestamp: now() });
	out.run = id;
} else if (scenario === 'risk') {
	const core = createCore(createConfig({ transportType: 'http',
		httpConfig: { ...httpConfig, agentSchema: riskSchema } }));
	core.agentManager.startInstance();
	for (let i = 1; i <= 4; i++) {
		const s = core.tracer.startSpan({ name: `lookup ${i}`, spanType: 'lookup', inputs: { n: i } });
		core.tracer.endSpan(s, { outputs: { found: i } });
	}
	core.agentManager.finishInstance();
	await core.shutdown();
} else {
	console.error(`unknown scenario ${scenario}`);
	process.exit(2);
}
proxy.close();
out.log = log;
console.log(JSON.stringify(out));
