// Cross-checks prefactor.pfid against the official @prefactor/pfid package
// (test/suites/pfid runs it). Modes:
//   node vectors.js make               ids made by the package, as CSV on stdout:
//                                      unix_ms,partition,randomness_hex,pfid,binary_hex
//   node vectors.js candidates         valid and malformed strings with the package's
//                                      verdict, as CSV: candidate,accepted,canonical
//   node vectors.js check FILE         reads ids made by prefactor (CSV with a header:
//                                      unix_ms,partition,randomness_hex,pfid) and checks
//                                      each against the package; prints ok / not ok lines
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const pfid = require('@prefactor/pfid');

const MAX_MS = 2 ** 48 - 1;
const MAX_PARTITION = 2 ** 30 - 1;
const COUNT = 500; // random ids of each kind

const randomInt = (max) => crypto.randomInt(0, max + 1); // 0..max
const randomMs = () => Math.floor(Math.random() * (MAX_MS + 1));
const csv = (fields) => fields.map((f) => `"${String(f).replace(/"/g, '""')}"`).join(',');

// The fields of an id, read from the package's binary form (its documented layout:
// bytes 0-5 timestamp, 6-9 partition (30 bits used), 10-19 randomness).
function fields(text) {
  const bin = pfid.decode(text);
  return {
    ms: bin.readUIntBE(0, 6),
    partitionWord: bin.readUInt32BE(6),
    partition: bin.readUInt32BE(6) & MAX_PARTITION,
    randomness: bin.subarray(10).toString('hex'),
    binary: bin.toString('hex'),
  };
}

// A binary id in the package's layout from its three fields.
function binaryOf(ms, partition, randomnessHex) {
  const bin = Buffer.alloc(20);
  bin.writeUIntBE(ms, 0, 6);
  bin.writeUInt32BE(partition, 6);
  Buffer.from(randomnessHex, 'hex').copy(bin, 10);
  return bin;
}

function make() {
  const ids = [];
  // generateWithTimestamp at the edges and at random points, random partitions
  const edgeMs = [0, 1, 2 ** 32 - 1, 2 ** 32, MAX_MS - 1, MAX_MS];
  const edgePartitions = [0, 1, 2 ** 29, MAX_PARTITION - 1, MAX_PARTITION];
  for (const ms of edgeMs) for (const p of edgePartitions) ids.push(pfid.generateWithTimestamp(p, ms));
  for (let i = 0; i < COUNT; i++) ids.push(pfid.generateWithTimestamp(randomInt(MAX_PARTITION), randomMs()));
  // now, a random partition, an example id, the zero id
  for (let i = 0; i < 20; i++) ids.push(pfid.generate(randomInt(MAX_PARTITION)), pfid.generateRoot());
  ids.push(pfid.generateExample(), pfid.zero());
  // encode() of binaries with extreme randomness (all zero, all one bits)
  for (const ms of [0, MAX_MS])
    for (const p of [0, MAX_PARTITION])
      for (const r of ['00'.repeat(10), 'ff'.repeat(10)]) ids.push(pfid.encode(binaryOf(ms, p, r)));
  const lines = ['unix_ms,partition,randomness_hex,pfid,binary_hex'];
  for (const id of ids) {
    const f = fields(id);
    lines.push(csv([f.ms, f.partition, f.randomness, id, f.binary]));
  }
  process.stdout.write(lines.join('\n') + '\n');
}

// Strings near valid ids: each valid id, its upper-case form, and mutations (a
// character replaced, one cut, one added, first characters above 7).
function candidates() {
  const alphabet = '0123456789abcdefghjkmnpqrstvwxyzABCDEFGHJKMNPQRSTVWXYZiloIOuU .-_!';
  const seen = new Set();
  const out = ['candidate,accepted,canonical'];
  const add = (s) => {
    if (seen.has(s)) return;
    seen.add(s);
    let canonical = '';
    let accepted = true;
    try {
      canonical = pfid.encode(pfid.decode(s));
    } catch (e) {
      if (!(e instanceof pfid.PfidError)) throw e;
      accepted = false;
    }
    out.push(csv([s, accepted, canonical]));
  };
  for (let i = 0; i < COUNT; i++) {
    const id = pfid.generateWithTimestamp(randomInt(MAX_PARTITION), randomMs());
    const pos = randomInt(31);
    add(id);
    add(id.toUpperCase());
    add(id.slice(0, pos) + alphabet[randomInt(alphabet.length - 1)] + id.slice(pos + 1));
    add(id.slice(0, pos) + id.slice(pos + 1));
    add(id + alphabet[randomInt(31)]);
  }
  for (const first of '0789azAZ') add(first + 'z'.repeat(31));
  add('');
  process.stdout.write(out.join('\n') + '\n');
}

// Each id made by prefactor, checked with the package both ways.
function check(file) {
  const rows = fs.readFileSync(file, 'utf8').trim().split('\n').slice(1)
    .map((line) => line.split(','));
  const failures = { valid: [], fields: [], partition: [], encode: [], roundTrip: [] };
  for (const [msText, partitionText, randomness, text] of rows) {
    const ms = Number(msText);
    const partition = Number(partitionText);
    if (!pfid.isPfid(text)) { failures.valid.push(text); continue; }
    const f = fields(text);
    if (f.ms !== ms || f.partitionWord !== partition || f.randomness !== randomness) failures.fields.push(text);
    if (pfid.extractPartition(text) !== partition) failures.partition.push(text);
    if (pfid.encode(binaryOf(ms, partition, randomness)) !== text) failures.encode.push(text);
    if (pfid.encode(pfid.decode(text)) !== text) failures.roundTrip.push(text);
  }
  const report = (ok, what, bad) => {
    console.log(`${ok ? 'ok' : 'not ok'} - ${what}`);
    if (!ok) console.log(`#   failing: ${bad.slice(0, 5).join(' ')}${bad.length > 5 ? ` (${bad.length} in all)` : ''}`);
    return ok;
  };
  let ok = report(rows.length > 0, `the package checks ${rows.length} ids made by prefactor`, ['no ids']);
  ok = report(rows.length > 0 && failures.valid.length === 0, 'isPfid accepts each id', failures.valid) && ok;
  ok = report(rows.length > 0 && failures.fields.length === 0,
    "decode gives each id's timestamp, partition and randomness", failures.fields) && ok;
  ok = report(rows.length > 0 && failures.partition.length === 0, "extractPartition gives each id's partition",
    failures.partition) && ok;
  ok = report(rows.length > 0 && failures.encode.length === 0, "encode of each id's fields gives prefactor's text",
    failures.encode) && ok;
  ok = report(rows.length > 0 && failures.roundTrip.length === 0, 'encode(decode(id)) gives the id back',
    failures.roundTrip) && ok;
  process.exitCode = ok ? 0 : 1;
}

const [mode, arg] = process.argv.slice(2);
if (mode === 'make') make();
else if (mode === 'candidates') candidates();
else if (mode === 'check' && arg) check(arg);
else {
  console.error('usage: node vectors.js make | candidates | check FILE');
  process.exit(2);
}
