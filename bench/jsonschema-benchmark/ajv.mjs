// ajv 8 baseline for run.sh: validates one corpus schema's pre-parsed
// instances (compile excluded) and prints "<docs/s median> <valid> <total>".
// Usage: node ajv.mjs <schema folder> <seconds per round> <rounds>
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Ajv = require('ajv').default;
const Ajv2020 = require('ajv/dist/2020').default;

const [dir, secs, rounds] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const schema = JSON.parse(readFileSync(`${dir}/schema.json`, 'utf8'));
const docs = readFileSync(`${dir}/instances.jsonl`, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

// the schema's $schema picks the dialect; formats are annotations, as in prefactor's default
const is2020 = /2020-12/.test(schema.$schema || '');
const opts = { strict: false, validateFormats: false };
const ajv = is2020 ? new Ajv2020(opts) : new Ajv(opts);
if (!is2020)
	ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
let validate;
try {
	validate = ajv.compile(schema);
} catch (e) {
	console.log(`error ${String(e.message).split('\n')[0]}`);
	process.exit(0);
}

function pass() {
	let ok = 0;
	for (let i = 0; i < docs.length; i++)
		if (validate(docs[i]))
			ok++;
	return ok;
}

// warm up (the JIT), then rounds of whole passes lasting at least secs each
const valid = pass();
for (let t0 = process.hrtime.bigint(); Number(process.hrtime.bigint() - t0) < 1e9;)
	pass();
const rates = [];
for (let r = 0; r < rounds; r++) {
	let n = 0;
	const t0 = process.hrtime.bigint();
	let dt;
	do {
		pass();
		n += docs.length;
		dt = Number(process.hrtime.bigint() - t0) / 1e9;
	} while (dt < secs);
	rates.push(n / dt);
}
rates.sort((a, b) => a - b);
console.log(`${Math.round(rates[rates.length >> 1])} ${valid} ${docs.length}`);
