// The OpenTelemetry JS SDK, as an agent instrumented with it runs: a tracer
// provider with the service's resource, a batch span processor and the
// OTLP/HTTP exporter (JSON), pointed at prefactor-gateway. One agent run with
// GenAI spans (semantic conventions): invoke_agent > chat, execute_tool
// search > GET /search (an HTTP client span, no GenAI attributes), a chat that
// fails, a last chat. The batch processor exports spans as they end, so
// children go out first; forced flushes cut the run into four requests, each
// child in an earlier request than its parent. Then one request is exported
// again (a redelivery).
//
// Each batch can go out through several exporters at once, each with its own
// ingest token (of its own account): the same spans as OTLP/JSON
// (@opentelemetry/exporter-trace-otlp-http) and as protobuf
// (@opentelemetry/exporter-trace-otlp-proto), each with or without gzip, so
// that what each stores can be compared.
//
// Usage: node export.mjs <gateway base url> <ingest token>
//        node export.mjs <gateway base url> <exporter>=<token>...
//   exporter: json, json-gzip, proto, proto-gzip (a bare token: json)
// Prints one JSON object: {exports: {exporter: [result codes]}, spans: {name:
// {spanId, parentSpanId, traceId, start, end}}} (times as unix nanoseconds,
// strings).
import { context, trace, SpanKind, SpanStatusCode, diag, DiagConsoleLogger, DiagLogLevel } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPTraceExporterProto } from '@opentelemetry/exporter-trace-otlp-proto';

const [base, ...targets] = process.argv.slice(2);
const kinds = { json: OTLPTraceExporter, 'json-gzip': OTLPTraceExporter, proto: OTLPTraceExporterProto,
	'proto-gzip': OTLPTraceExporterProto };
if (!base || targets.length === 0 || targets.some((t) => t.includes('=') && !kinds[t.split('=')[0]])) {
	console.error('usage: node export.mjs <gateway base url> <ingest token> | <json|json-gzip|proto|proto-gzip>=<token>...');
	process.exit(2);
}
diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

// The exporters as an application configures them (the README's lines),
// wrapped only to record what each export answered and to keep a batch to
// send again.
const otlps = targets.map((t) => {
	const [kind, token] = t.includes('=') ? [t.slice(0, t.indexOf('=')), t.slice(t.indexOf('=') + 1)] : ['json', t];
	return {
		kind,
		exporter: new kinds[kind]({
			url: `${base}/v1/traces`,
			headers: { Authorization: `Bearer ${token}` },
			...(kind.endsWith('-gzip') ? { compression: 'gzip' } : {}),
		}),
	};
});
const results = Object.fromEntries(otlps.map((o) => [o.kind, []]));
const batches = [];
const exportThrough = (o, spans) => new Promise((resolve) => o.exporter.export(spans, (result) => {
	results[o.kind].push({ code: result.code, error: result.error ? String(result.error) : undefined, spans: spans.length });
	resolve(result);
}));
const exporter = {
	export(spans, done) {
		batches.push(spans);
		(async () => {
			let first;
			for (const o of otlps) {
				const result = await exportThrough(o, spans);
				first ??= result;
			}
			done(first);
		})();
	},
	shutdown: () => Promise.all(otlps.map((o) => o.exporter.shutdown())),
	forceFlush: () => Promise.all(otlps.map((o) => o.exporter.forceFlush())),
};

const provider = new BasicTracerProvider({
	resource: resourceFromAttributes({
		'service.name': 'support-bot',
		'service.version': '1.4.0',
		'deployment.environment.name': 'prod',
	}),
	spanProcessors: [new BatchSpanProcessor(exporter, { maxExportBatchSize: 8, scheduledDelayMillis: 60000 })],
});
const tracer = provider.getTracer('prefactor-otlp-test', '1.0.0');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const child = (parent, name, attributes, kind = SpanKind.INTERNAL) =>
	tracer.startSpan(name, { kind, attributes }, trace.setSpan(context.active(), parent));
const messages = (role, text) => JSON.stringify([{ role, parts: [{ type: 'text', content: text }] }]);
const recorded = {};
const keep = (label, span) => {
	recorded[label] = span;
	return span;
};

const agent = keep('agent', tracer.startSpan('invoke_agent support-bot', {
	kind: SpanKind.INTERNAL,
	attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'support-bot' },
}));
await sleep(5);
const chat1 = keep('chat1', child(agent, 'chat gpt-4o', {
	'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o',
	'gen_ai.input.messages': messages('user', 'Does the app work offline?'),
}, SpanKind.CLIENT));
await sleep(10);
chat1.setAttributes({
	'gen_ai.usage.input_tokens': 120, 'gen_ai.usage.output_tokens': 30,
	'gen_ai.output.messages': messages('assistant', 'Let me search.'),
});
chat1.end();
const tool = keep('tool', child(agent, 'execute_tool search', {
	'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search',
	'gen_ai.tool.call.arguments': JSON.stringify({ query: 'offline mode' }),
}));
await sleep(2);
const http = keep('http', child(tool, 'GET /search', { 'http.request.method': 'GET', 'url.path': '/search' }, SpanKind.CLIENT));
await sleep(10);
http.end();
// request 1: chat1 and GET /search (its parent, the tool span, is still open)
await provider.forceFlush();
tool.setAttribute('gen_ai.tool.call.result', JSON.stringify({ hits: 2 }));
tool.end();
const chat2 = keep('chat2', child(agent, 'chat gpt-4o', { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' },
	SpanKind.CLIENT));
await sleep(5);
chat2.recordException(new Error('rate limited by the provider'));
chat2.setStatus({ code: SpanStatusCode.ERROR, message: 'rate limited' });
chat2.end();
// request 2: the tool span (parent of GET /search, sent before) and the failed chat
await provider.forceFlush();
const chat3 = keep('chat3', child(agent, 'chat gpt-4o', {
	'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o',
	'gen_ai.usage.input_tokens': 200, 'gen_ai.usage.output_tokens': 45,
	'gen_ai.output.messages': messages('assistant', 'Yes, it works offline.'),
}, SpanKind.CLIENT));
await sleep(10);
chat3.end();
// request 3: the last chat
await provider.forceFlush();
await sleep(2);
agent.end();
// request 4: the agent span, the root: its end finishes the run
await provider.forceFlush();
// a redelivery of request 2, as an exporter retrying after a lost answer sends it
await new Promise((resolve) => exporter.export(batches[1], resolve));
await provider.shutdown();

const ns = (hr) => (BigInt(hr[0]) * 1000000000n + BigInt(hr[1])).toString();
const spans = {};
for (const [label, s] of Object.entries(recorded)) {
	const c = s.spanContext();
	spans[label] = {
		spanId: c.spanId, traceId: c.traceId, parentSpanId: s.parentSpanContext?.spanId ?? s.parentSpanId ?? null,
		start: ns(s.startTime), end: ns(s.endTime),
	};
}
console.log(JSON.stringify({ exports: results, spans }));
