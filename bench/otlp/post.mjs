// Posts OTLP/HTTP requests to prefactor-gateway's /v1/traces for a number of
// seconds from N concurrent clients, each request the bench's batch of 100
// spans under a fresh trace id, as OTLP/JSON or as OTLP protobuf (the same
// request encoded here once; each request copies it and writes its trace id).
// Prints {requests, per_second, errors, bytes}.
// Usage: node post.mjs <base url> <token> <clients> <seconds> <body file> [json|protobuf]
import fs from 'node:fs';
import crypto from 'node:crypto';

const [base, token, clients, seconds, file, encoding = 'json'] = process.argv.slice(2);
const json = fs.readFileSync(file, 'utf8');

// --- OTLP protobuf (opentelemetry/proto/collector/trace/v1), the fields the bench's request has
function varint(n) {
	const out = [];
	let v = BigInt(n);
	do {
		let b = Number(v & 0x7fn);
		v >>= 7n;
		if (v > 0n) b |= 0x80;
		out.push(b);
	} while (v > 0n);
	return Buffer.from(out);
}
const tag = (field, wire) => varint((field << 3) | wire);
const len = (field, bytes) => Buffer.concat([tag(field, 2), varint(bytes.length), bytes]);
const str = (field, s) => len(field, Buffer.from(s, 'utf8'));
const fixed64 = (field, n) => {
	const b = Buffer.alloc(8);
	b.writeBigUInt64LE(BigInt(n));
	return Buffer.concat([tag(field, 1), b]);
};
function anyValue(v) {
	if ('stringValue' in v) return str(1, v.stringValue);
	if ('boolValue' in v) return Buffer.concat([tag(2, 0), varint(v.boolValue ? 1 : 0)]);
	if ('intValue' in v) return Buffer.concat([tag(3, 0), varint(BigInt.asUintN(64, BigInt(v.intValue)))]);
	if ('doubleValue' in v) {
		const b = Buffer.alloc(8);
		b.writeDoubleLE(v.doubleValue);
		return Buffer.concat([tag(4, 1), b]);
	}
	throw new Error(`post.mjs: no protobuf encoding here for ${JSON.stringify(v)}`);
}
const keyValue = (kv) => Buffer.concat([str(1, kv.key), len(2, anyValue(kv.value))]);
const TRACE_MARK = Buffer.from('TRACEID-16-bytes');	// 16 bytes, replaced per request
function span(s) {
	const parts = [len(1, s.traceId === 'TRACEID' ? TRACE_MARK : Buffer.from(s.traceId, 'hex')),
		len(2, Buffer.from(s.spanId, 'hex'))];
	if (s.parentSpanId) parts.push(len(4, Buffer.from(s.parentSpanId, 'hex')));
	parts.push(str(5, s.name));
	if (s.kind) parts.push(Buffer.concat([tag(6, 0), varint(s.kind)]));
	parts.push(fixed64(7, s.startTimeUnixNano), fixed64(8, s.endTimeUnixNano));
	for (const kv of s.attributes ?? []) parts.push(len(9, keyValue(kv)));
	if (s.status) {
		const st = [];
		if (s.status.message) st.push(str(2, s.status.message));
		if (s.status.code) st.push(Buffer.concat([tag(3, 0), varint(s.status.code)]));
		parts.push(len(15, Buffer.concat(st)));
	}
	return Buffer.concat(parts);
}
function request(r) {
	return Buffer.concat(r.resourceSpans.map((rs) => len(1, Buffer.concat([
		len(1, Buffer.concat((rs.resource?.attributes ?? []).map((kv) => len(1, keyValue(kv))))),
		...rs.scopeSpans.map((ss) => len(2, Buffer.concat([
			...(ss.scope ? [len(1, str(1, ss.scope.name ?? ''))] : []),
			...ss.spans.map((s) => len(2, span(s))),
		]))),
	]))));
}

let send;
if (encoding === 'protobuf') {
	const proto = request(JSON.parse(json));
	const marks = [];
	for (let at = proto.indexOf(TRACE_MARK); at >= 0; at = proto.indexOf(TRACE_MARK, at + 1)) marks.push(at);
	send = () => {
		const body = Buffer.from(proto);
		const id = crypto.randomBytes(16);
		for (const at of marks) id.copy(body, at);
		return { body, type: 'application/x-protobuf', ok: (status, bytes) => status === 200 && bytes.length === 0 };
	};
} else if (encoding === 'json') {
	send = () => ({
		body: json.replaceAll('TRACEID', crypto.randomBytes(16).toString('hex')),
		type: 'application/json',
		ok: (status, bytes) => status === 200 && bytes.toString() === '{}',
	});
} else {
	throw new Error(`post.mjs: encoding ${encoding}: json or protobuf`);
}

const end = Date.now() + Number(seconds) * 1000;
let requests = 0;
let errors = 0;
let bytes = 0;
async function client() {
	while (Date.now() < end) {
		const { body, type, ok } = send();
		const r = await fetch(`${base}/v1/traces`, {
			method: 'POST',
			headers: { 'Content-Type': type, Authorization: `Bearer ${token}` },
			body,
		});
		const answer = Buffer.from(await r.arrayBuffer());
		bytes = body.length;
		if (ok(r.status, answer)) requests++;
		else errors++;
	}
}
const t0 = Date.now();
await Promise.all(Array.from({ length: Number(clients) }, client));
const secs = (Date.now() - t0) / 1000;
console.log(JSON.stringify({ requests, per_second: requests / secs, errors, bytes }));
