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

// --- ydoc edit ---------------------------------------------------------------------------------
// ydoc edit [--in FILE]... [--client N] [--no-gc] [--full] -o OUT OP...   (OP tokens as in the usage)
// Each case is replayed in yjs (same client id, same transactions) to get the expected document.
if (!isRef) editTests();

function toRequest(tokens) {
  const [op, root, a, b] = tokens;
  switch (op) {
    case 'text.insert': return { op, path: [root], index: Number(a), text: b };
    case 'text.delete': return { op, path: [root], index: Number(a), length: Number(b) };
    case 'map.set': return { op, path: [root], key: a, value: JSON.parse(b) };
    case 'map.delete': return { op, path: [root], key: a };
    case 'array.insert': return { op, path: [root], index: Number(a), values: JSON.parse(b) };
    case 'array.delete': return { op, path: [root], index: Number(a), length: Number(b) };
    default: throw new Error(`unknown op ${op}`);
  }
}
function yjsEdit(inFiles, client, gc, ops) {
  const { DriverCore } = require('./lib/driver-core');
  const core = new DriverCore();
  core.handle({ op: 'new', peer: 1, client, gc });
  const doc = core.peers.get(1).doc;
  for (const f of inFiles) Y.applyUpdate(doc, new Uint8Array(fs.readFileSync(f)));
  const updates = [];
  for (const tokens of ops) {
    const r = core.handle({ ...toRequest(tokens), peer: 1 });
    if (!r.ok) throw new Error(`yjs rejected ${tokens.join(' ')}: ${r.error}`);
    if (r.update) updates.push(unb64(r.update));
  }
  return { doc, updates };
}

function editTests() {
  const cases = [
    { name: 'text insert, fresh doc, exact bytes', client: 7, ops: [['text.insert', 't', '0', 'héllo 😀\r\n👩‍👩‍👧']], exactBytes: true },
    { name: 'text delete + insert on a golden file', in: ['text_insert'], client: 99,
      ops: [['text.delete', 't', '0', '5'], ['text.insert', 't', '0', 'X'], ['text.insert', 't', '3', '😀']] },
    { name: 'map set of binary, nested text, float, then delete', client: 3,
      ops: [['map.set', 'm', 'bin', '{"$binary":"AAE="}'], ['map.set', 'm', 'n', '{"$type":"text"}'],
        ['map.set', 'm', 'num', '1.5'], ['map.set', 'm', 'big', '{"$bigint":"-5"}'], ['map.set', 'm', 'obj', '{"a":[1,null,"é"]}'],
        ['map.delete', 'm', 'num']] },
    { name: 'array insert and delete on a golden file', in: ['array_ops'], client: 5,
      ops: [['array.insert', 'a', '0', '[1,"x",null,{"$binary":"AA=="},{"$type":"map"}]'], ['array.delete', 'a', '1', '2']] },
    { name: '--full writes the whole document', in: ['map_any_kinds'], client: 8, full: true,
      ops: [['map.set', 'm', 'extra', 'true']] },
    { name: '--no-gc --full keeps deleted content, exact bytes', client: 1, gc: false, full: true, exactBytes: true,
      ops: [['text.insert', 't', '0', 'abcdef'], ['text.delete', 't', '1', '3']] },
  ];
  for (const c of cases) {
    const inFiles = (c.in || []).map(golden);
    const out = tf(`edit-${cases.indexOf(c)}.bin`);
    const args = ['edit'];
    for (const f of inFiles) args.push('--in', f);
    args.push('--client', String(c.client));
    if (c.gc === false) args.push('--no-gc');
    if (c.full) args.push('--full');
    args.push('-o', out);
    for (const op of c.ops) args.push(...op);
    const r = runYdoc(ydoc, args);
    if (r.status !== 0) { t.fail(`edit: ${c.name}`, `ydoc ${args.join(' ')}: ${describe(r)}`); continue; }
    const got = new Uint8Array(fs.readFileSync(out));
    let want;
    try { want = yjsEdit(inFiles, c.client, c.gc !== false, c.ops); } catch (e) { t.fail(`edit: ${c.name}`, e.message); continue; }
    const check = new Y.Doc();
    if (!c.full) for (const f of inFiles) Y.applyUpdate(check, new Uint8Array(fs.readFileSync(f)));
    Y.applyUpdate(check, got);
    const d = jsonDiff(docJson(check), docJson(want.doc));
    t.check(`edit: ${c.name}: yjs reads the intended document`, !d, d);
    if (c.exactBytes) {
      const wantBytes = c.full ? Y.encodeStateAsUpdate(want.doc) : Y.mergeUpdates(want.updates);
      t.check(`edit: ${c.name}: bytes equal yjs's`, Buffer.compare(Buffer.from(got), Buffer.from(wantBytes)) === 0,
        `yjs ${Buffer.from(wantBytes).toString('hex')} ydoc ${Buffer.from(got).toString('hex')}`);
    }
  }
  let r = runYdoc(ydoc, ['edit', '-o', tf('e1.bin'), 'text.insert', 't', '5', 'x']);
  t.check('edit: index past the end exits 1', r.status === 1 && r.stderr.length > 0, describe(r));
  r = runYdoc(ydoc, ['edit', '-o', tf('e2.bin'), 'bogus.op', 't', '0']);
  t.check('edit: unknown op exits 2', r.status === 2, describe(r));
  r = runYdoc(ydoc, ['edit', 'text.insert', 't', '0', 'x']);
  t.check('edit: no -o exits 2', r.status === 2, describe(r));
  r = runYdoc(ydoc, ['edit', '--in', tf('nope.bin'), '-o', tf('e3.bin'), 'text.insert', 't', '0', 'x']);
  t.check('edit: missing --in file exits 1 naming it', r.status === 1 && r.stderr.includes('nope.bin'), describe(r));
  r = runYdoc(ydoc, ['edit', '-o', tf('e4.bin'), 'map.set', 'm', 'k', '{not json']);
  t.check('edit: a bad JSON value exits 2 (or 1) with a message', (r.status === 2 || r.status === 1) && r.stderr.length > 0, describe(r));
}

fs.rmSync(tmp, { recursive: true, force: true });
t.finish();
