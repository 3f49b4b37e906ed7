// Posts OTLP/JSON requests to prefactor-gateway's /v1/traces for a number of
// seconds from N concurrent clients, each request the bench's batch of 100
// spans under a fresh trace id. Prints {requests, per_second, errors}.
// Usage: node post.mjs <base url> <token> <clients> <seconds> <body file>
import fs from 'node:fs';
import crypto from 'node:crypto';

const [base, token, clients, seconds, file] = process.argv.slice(2);
const body = fs.readFileSync(file, 'utf8');
const end = Date.now() + Number(seconds) * 1000;
let requests = 0;
let errors = 0;
async function client() {
	while (Date.now() < end) {
		const r = await fetch(`${base}/v1/traces`, {
			method: 'POST',
			headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
			body: body.replaceAll('TRACEID', crypto.randomBytes(16).toString('hex')),
		});
		const text = await r.text();
		if (r.status === 200 && text === '{}') requests++;
		else errors++;
	}
}
const t0 = Date.now();
await Promise.all(Array.from({ length: Number(clients) }, client));
const secs = (Date.now() - t0) / 1000;
console.log(JSON.stringify({ requests, per_second: requests / secs, errors }));
