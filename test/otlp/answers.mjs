// What the official protobuf exporter (@opentelemetry/exporter-trace-otlp-proto)
// makes of prefactor-gateway's protobuf answers: a partial success (a span of
// another environment than the token's is rejected; the exporter reports
// success and logs the ExportTracePartialSuccess it decoded) and a 401 (a
// token that is not one; the exporter reports failure with the HTTP status
// and the google.rpc.Status body, decoded here).
//
// Usage: node answers.mjs <gateway base url> <ingest token>
// Prints one JSON object: {partial: {code, warnings}, unauthorized: {code,
// httpCode, status: {code, message}}}.
import { trace, diag, DiagLogLevel } from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';

const [base, token] = process.argv.slice(2);
if (!base || !token) {
	console.error('usage: node answers.mjs <gateway base url> <ingest token>');
	process.exit(2);
}
// the exporter reports a partial success through diag.warn: keep what it says
const warnings = [];
diag.setLogger({
	error: (...a) => warnings.push(a.map(String).join(' ')),
	warn: (...a) => warnings.push(a.map(String).join(' ')),
	info: () => {}, debug: () => {}, verbose: () => {},
}, DiagLogLevel.WARN);

// Exports one span of the given environment with the given token; the result the exporter reports.
async function exportOne(bearer, environment) {
	const otlp = new OTLPTraceExporter({ url: `${base}/v1/traces`, headers: { Authorization: `Bearer ${bearer}` } });
	let outcome;
	const exporter = {
		export(spans, done) {
			otlp.export(spans, (result) => {
				outcome = result;
				done(result);
			});
		},
		shutdown: () => otlp.shutdown(),
		forceFlush: () => otlp.forceFlush(),
	};
	const provider = new BasicTracerProvider({
		resource: resourceFromAttributes({ 'service.name': 'support-bot', 'deployment.environment.name': environment }),
		spanProcessors: [new SimpleSpanProcessor(exporter)],
	});
	provider.getTracer('prefactor-otlp-test').startSpan('chat gpt-4o', { attributes: { 'gen_ai.operation.name': 'chat' } }).end();
	// a failed export also rejects the flush: the outcome is what is looked at
	await provider.forceFlush().catch(() => {});
	await provider.shutdown().catch(() => {});
	return outcome;
}

// A google.rpc.Status {1: int32 code, 2: string message}, read by hand.
function readStatus(bytes) {
	const status = {};
	let i = 0;
	const varint = () => {
		let v = 0, shift = 0, b;
		do {
			b = bytes[i++];
			v += (b & 0x7f) * 2 ** shift;
			shift += 7;
		} while (b & 0x80);
		return v;
	};
	while (i < bytes.length) {
		const tag = varint();
		if (tag === (1 << 3 | 0)) status.code = varint();
		else if (tag === (2 << 3 | 2)) {
			const n = varint();
			status.message = Buffer.from(bytes.subarray(i, i + n)).toString('utf8');
			i += n;
		} else return { unreadable: tag };
	}
	return status;
}

const partial = await exportOne(token, 'staging');
const partialWarnings = warnings.splice(0);
const unauthorized = await exportOne('pft_not-a-token', 'prod');
// the transport keeps the body as text (Buffer#toString): ASCII here, so its bytes are the body's
const data = unauthorized?.error?.data;
console.log(JSON.stringify({
	partial: { code: partial?.code, warnings: partialWarnings },
	unauthorized: {
		code: unauthorized?.code,
		httpCode: unauthorized?.error?.code,
		status: typeof data === 'string' ? readStatus(Buffer.from(data, 'latin1')) : null,
	},
}));
