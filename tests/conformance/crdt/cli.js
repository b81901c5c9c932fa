#!/usr/bin/env node
'use strict';
// Tests of the `ydoc` command line as scripts use it: help, exit codes (0 ok, 1 failure, 2 usage),
// errors that name the file, malformed input rejected without a crash, and `ydoc edit` producing
// updates that yjs reads as the intended edit.
// usage: cli.js [--ydoc PATH|ref]
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Y, unb64, docJson, jsonDiff } = require('./lib/values');
const { runYdoc, Tally, argValue } = require('./lib/run');

const argv = process.argv.slice(2);
if (argv.includes('--help')) { process.stdout.write('usage: cli.js [--ydoc PATH|ref]\n'); process.exit(0); }
const ydoc = argValue(argv, '--ydoc', path.resolve(__dirname, '../../../build/bin/ydoc'));
const isRef = ydoc === 'ref';
const t = new Tally('cli');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crdt-cli-'));
const golden = (n) => path.join(__dirname, 'golden', `${n}.bin`);
const tf = (n) => path.join(tmp, n);
process.stdout.write(`cli: ydoc=${ydoc}\n`);

function exitedCleanly(r) { return r.signal === null && r.status !== null && r.status < 128; }
function describe(r) { return `exit ${r.status} signal ${r.signal}; stderr: ${String(r.stderr).trim().slice(0, 300)}`; }

// --- help and usage errors ----------------------------------------------------------------------
if (!isRef) {
  let r = runYdoc(ydoc, ['--help']);
  t.check('ydoc --help exits 0 and lists the commands', r.status === 0 &&
    ['inspect', 'merge', 'diff', 'sv', 'edit', 'apply-trace', 'driver'].every((c) => (r.stdout + r.stderr).includes(c)), describe(r));
  for (const c of ['inspect', 'merge', 'diff', 'sv', 'edit', 'apply-trace', 'driver']) {
    r = runYdoc(ydoc, [c, '--help']);
    t.check(`ydoc ${c} --help exits 0 with a usage line`, r.status === 0 && /usage/i.test(r.stdout + r.stderr), describe(r));
  }
  r = runYdoc(ydoc, ['no-such-command']);
  t.check('unknown command exits 2', r.status === 2, describe(r));
  r = runYdoc(ydoc, ['inspect']);
  t.check('inspect without files exits 2', r.status === 2, describe(r));
  r = runYdoc(ydoc, ['merge', golden('text_insert')]);
  t.check('merge without -o exits 2', r.status === 2, describe(r));
  r = runYdoc(ydoc, ['inspect', '--root', 'x:nonsense', golden('text_insert')]);
  t.check('inspect --root with an unknown kind exits 2', r.status === 2, describe(r));
  r = runYdoc(ydoc, ['diff', golden('text_insert'), '-o', tf('d.bin')]);
  t.check('diff without --sv exits 2', r.status === 2, describe(r));
}

// --- bad files ----------------------------------------------------------------------------------
{
  const missing = tf('does-not-exist.bin');
  const r = runYdoc(ydoc, ['inspect', missing]);
  t.check('inspect of a missing file exits 1 and names it', r.status === 1 && r.stderr.includes('does-not-exist.bin'), describe(r));
}
const full = fs.readFileSync(golden('map_any_kinds'));
const malformed = {
  'empty.bin': Buffer.alloc(0),
  'truncated.bin': full.subarray(0, Math.floor(full.length / 2)),
  'truncated-by-one.bin': full.subarray(0, full.length - 1),
  'random.bin': Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7919 + 13) & 0xff)),
  'huge-struct-count.bin': Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
  'huge-string-length.bin': Buffer.from([0x01, 0x01, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x61]),
  'huge-client-list.bin': Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x01, 0x61, 0x00]),
  'varuint-overflow.bin': Buffer.from([0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
  'bad-content-ref.bin': Buffer.from([0x01, 0x01, 0x01, 0x00, 0x0f, 0x01, 0x01, 0x74, 0x00, 0x00]),
  'huge-delete-set.bin': Buffer.from([0x00, 0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x01]),
};
for (const [name, bytes] of Object.entries(malformed)) {
  fs.writeFileSync(tf(name), bytes);
  const r = runYdoc(ydoc, ['inspect', tf(name)]);
  if (!exitedCleanly(r)) { t.fail(`inspect ${name}: no crash`, describe(r)); continue; }
  // An empty or truncated update may legitimately be a no-op for yjs too; what counts is no crash
  // and, on failure, exit 1 with the file named.
  let jsOk = true;
  try { Y.applyUpdate(new Y.Doc(), new Uint8Array(bytes)); } catch (e) { jsOk = false; }
  if (r.status === 0) t.check(`inspect ${name}: accepted only if yjs accepts it`, jsOk, `ydoc printed ${r.stdout.slice(0, 200)}`);
  else t.check(`inspect ${name}: exit 1 naming the file`, r.status === 1 && r.stderr.includes(name), describe(r));
  const m = runYdoc(ydoc, ['merge', tf(name), '-o', tf(`${name}.merged`)]);
  t.check(`merge ${name}: no crash`, exitedCleanly(m), describe(m));
}

// --- merge / sv round trips through files -------------------------------------------------------
{
  const files = ['text_insert', 'map_any_kinds', 'nested_types'].map(golden);
  const r = runYdoc(ydoc, ['merge', ...files, '-o', tf('merged.bin')]);
  if (r.status !== 0) t.fail('merge of three golden files', describe(r));
  else {
    const js = new Y.Doc();
    for (const f of files) Y.applyUpdate(js, new Uint8Array(fs.readFileSync(f)));
    const back = new Y.Doc();
    Y.applyUpdate(back, new Uint8Array(fs.readFileSync(tf('merged.bin'))));
    const roots = { t: 'text', m: 'map', a: 'array' };
    const d = jsonDiff(docJson(back, roots), docJson(js, roots));
    t.check('merge of three golden files (three clients) reads back in yjs as their union', !d, d);
    const s = runYdoc(ydoc, ['sv', tf('merged.bin'), '-o', tf('merged.sv')]);
    t.check('sv of the merge equals yjs encodeStateVector', s.status === 0 &&
      Buffer.compare(fs.readFileSync(tf('merged.sv')), Buffer.from(Y.encodeStateVector(js))) === 0, describe(s));
    const i = runYdoc(ydoc, ['inspect', tf('merged.bin')]);
    const di = i.status === 0 ? jsonDiff(JSON.parse(i.stdout), docJson(js)) : describe(i);
    t.check('inspect of the merge (inferred roots)', !di, di);
  }
}

// --- ydoc edit ----------------------------------------------------------------------------------
// `ydoc edit` writes one update; its exact flags are crdt-core's (see `ydoc edit --help`). The
// cases below follow the README form: ydoc edit [--client N] [--base FILE]... -o OUT OP...
if (!isRef) editTests();

function editTests() {
  const help = runYdoc(ydoc, ['edit', '--help']);
  const usage = help.stdout + help.stderr;
  process.stdout.write(`ydoc edit usage: ${usage.trim().split('\n').slice(0, 12).join(' | ')}\n`);
  const cases = require('./cli-edit-cases.js')(usage);
  if (!cases) { t.fail('ydoc edit', `usage not recognised by cli-edit-cases.js: ${usage.slice(0, 400)}`); return; }
  for (const c of cases) {
    const base = c.base ? c.base.map(golden) : [];
    const out = tf(`${c.name}.bin`);
    const r = runYdoc(ydoc, c.args(base, out));
    if (r.status !== 0) { t.fail(`edit ${c.name}`, `${c.args(base, out).join(' ')}: ${describe(r)}`); continue; }
    const doc = new Y.Doc();
    for (const f of base) Y.applyUpdate(doc, new Uint8Array(fs.readFileSync(f)));
    Y.applyUpdate(doc, new Uint8Array(fs.readFileSync(out)));
    const d = jsonDiff(docJson(doc, c.roots), c.expect);
    t.check(`edit ${c.name}: yjs reads the intended document`, !d, d);
  }
}

fs.rmSync(tmp, { recursive: true, force: true });
t.finish();
