// Load for bench/gateway/run.sh: N clients, each on its own run, each sending
// span calls through prefactor-gateway as @prefactor/core's HTTP client does
// (POST /api/v1/agent_spans, then POST /api/v1/agent_spans/{id}/finish, JSON
// bodies shaped as the SDK sends them, keep-alive connections), for a given
// time. Node's own http module: the SDK's queue sends one call at a time per
// agent, which each client here mirrors.
//
// Usage: node load.mjs <url> <token> <clients> <seconds> <run id>...
//        node load.mjs <url> <token> <clients> <seconds> --otlp <batch file>
// Prints one JSON line: {spans, seconds, spans_per_s, span_ms: {p50, p99},
// request_ms: {p50, p99}, errors}. With --otlp, each call posts the batch to
// /v1/traces (the hook for OTLP batches of 100 spans) and "spans" counts calls.
import http from 'node:http';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';

const [url, token, clientsArg, secondsArg, ...rest] = process.argv.slice(2);
const clients = Number(clientsArg);
const seconds = Number(secondsArg);
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
const otlp = rest[0] === '--otlp' ? fs.readFileSync(rest[1], 'utf8') : null;
const runs = otlp ? [] : rest;
const filler = 'x'.repeat(600);

function post(path, body) {
	return new Promise((resolve, reject) => {
		const req = http.request({
			host: target.hostname, port: target.port, method: 'POST', path, agent,
			headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`,
				'Content-Length': Buffer.byteLength(body) },
		}, (res) => {
			const parts = [];
			res.on('data', (c) => parts.push(c));
			res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString() }));
		});
		req.on('error', reject);
		req.end(body);
	});
}

const spanLatencies = [];
const requestLatencies = [];
let errors = 0;
const deadline = Date.now() + seconds * 1000;

async function timed(path, body) {
	const t0 = process.hrtime.bigint();
	const answer = await post(path, body);
	requestLatencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
	if (answer.status !== 200) {
		errors += 1;
	}
	return answer;
}

async function client(i) {
	const run = runs[i % Math.max(runs.length, 1)];
	while (Date.now() < deadline) {
		const t0 = process.hrtime.bigint();
		if (otlp) {
			await timed('/v1/traces', otlp);
		} else {
			const now = new Date().toISOString();
			const created = await timed('/api/v1/agent_spans', JSON.stringify({ details: {
				agent_instance_id: run, schema_name: 'llm', status: 'active',
				payload: { span_id: randomUUID(), trace_id: 'bench-trace', name: 'llm', status: 'active',
					inputs: { model: 'gpt-4o', prompt: filler }, outputs: null, metadata: {}, token_usage: null, error: null },
				parent_span_id: null, started_at: now, finished_at: null,
			} }));
			const id = JSON.parse(created.body)?.details?.id;
			if (!id) {
				continue;
			}
			await timed(`/api/v1/agent_spans/${id}/finish`, JSON.stringify({
				timestamp: new Date().toISOString(), status: 'complete', result_payload: { output: filler },
			}));
		}
		spanLatencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
	}
}

const started = Date.now();
await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
const elapsed = (Date.now() - started) / 1000;
const pct = (xs, p) => {
	const s = [...xs].sort((a, b) => a - b);
	return s.length ? Number(s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(2)) : null;
};
console.log(JSON.stringify({
	spans: spanLatencies.length, seconds: elapsed, spans_per_s: Number((spanLatencies.length / elapsed).toFixed(1)),
	span_ms: { p50: pct(spanLatencies, 0.5), p99: pct(spanLatencies, 0.99) },
	request_ms: { p50: pct(requestLatencies, 0.5), p99: pct(requestLatencies, 0.99) },
	errors,
}));
agent.destroy();
