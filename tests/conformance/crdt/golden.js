#!/usr/bin/env node
'use strict';
// Golden-byte tests of the C++ CRDT against files the real yjs produced (golden/, made by
// gen-golden.js; never regenerated here):
//   (a) `ydoc inspect` of each golden file (and of its per-transaction updates in shuffled order with
//       duplicates) prints the expected canonical JSON;
//   (b) replaying each op list through `ydoc driver` with the same client ids gives byte-identical
//       updates to yjs's, and the same full-state encoding;
//   (c) `ydoc merge` / `ydoc diff` / `ydoc sv` outputs are accepted by yjs and give the same document
//       (content our API does not model, e.g. XML types and subdocuments, survives the round trip).
// usage: golden.js [--ydoc PATH|ref] [--driver PATH|ref] [--only NAME] [--seed S]
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Y, b64, unb64, canonValue, jsonDiff } = require('./lib/values');
const { openDriver } = require('./lib/driver-client');
const { rng, runYdoc, Tally, argValue } = require('./lib/run');

const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  process.stdout.write('usage: golden.js [--ydoc PATH|ref] [--driver PATH|ref] [--only NAME] [--seed S]\n');
  process.exit(0);
}
const ydoc = argValue(argv, '--ydoc', path.resolve(__dirname, '../../../build/bin/ydoc'));
const driverSpec = argValue(argv, '--driver', ydoc);
const only = argValue(argv, '--only', null);
const seed = Number(argValue(argv, '--seed', String(Date.now() % 1000000)));
const goldenDir = path.join(__dirname, 'golden');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crdt-golden-'));
const t = new Tally('golden');
process.stdout.write(`golden: ydoc=${ydoc} driver=${driverSpec} seed=${seed} (shuffles; replay with --seed ${seed})\n`);

function inspect(files, roots) {
  const args = ['inspect'];
  for (const [n, k] of Object.entries(roots || {})) args.push('--root', `${n}:${k}`);
  const r = runYdoc(ydoc, [...args, ...files]);
  if (r.status !== 0) throw new Error(`ydoc ${args.join(' ')} exited ${r.status}: ${r.stderr.trim().slice(0, 500)}`);
  try { return JSON.parse(r.stdout); } catch (e) { throw new Error(`ydoc inspect printed no JSON: ${r.stdout.slice(0, 300)}`); }
}
function ydocToFile(args) {
  const out = path.join(tmp, `out-${Math.random().toString(36).slice(2)}.bin`);
  const r = runYdoc(ydoc, [...args, '-o', out]);
  if (r.status !== 0) throw new Error(`ydoc ${args.join(' ')} exited ${r.status}: ${r.stderr.trim().slice(0, 500)}`);
  return new Uint8Array(fs.readFileSync(out));
}
function writeTmp(name, bytes) { const f = path.join(tmp, name); fs.writeFileSync(f, bytes); return f; }
function attempt(what, fn) {
  try { fn(); } catch (e) { t.fail(what, e.message); }
}
async function attemptAsync(what, fn) {
  try { await fn(); } catch (e) { t.fail(what, e.message); }
}
function yjsDoc(updates) {
  const d = new Y.Doc();
  for (const u of updates) Y.applyUpdate(d, u);
  return d;
}
function yjsFull(doc, roots) {
  const o = {};
  for (const [n, k] of Object.entries(roots)) {
    o[n] = canonValue(k === 'xml' ? doc.getXmlFragment(n) : k === 'map' ? doc.getMap(n) : k === 'text' ? doc.getText(n) : doc.getArray(n));
  }
  return o;
}

async function main() {
  const r = rng(seed);
  const index = JSON.parse(fs.readFileSync(path.join(goldenDir, 'index.json'), 'utf8'));
  const driver = openDriver(driverSpec);
  let nextPeer = 1000;
  for (const entry of index) {
    if (only && entry.name !== only) continue;
    const name = entry.name;
    const binFile = path.join(goldenDir, `${name}.bin`);
    const bin = new Uint8Array(fs.readFileSync(binFile));
    const expected = JSON.parse(fs.readFileSync(path.join(goldenDir, `${name}.json`), 'utf8'));
    const ops = entry.ops ? JSON.parse(fs.readFileSync(path.join(goldenDir, `${name}.ops.json`), 'utf8')) : null;
    const yjsRoots = entry.yjs_roots || entry.roots;
    const yjsExpected = entry.yjs_full || yjsFull(yjsDoc([bin]), yjsRoots);

    // (a) inspect
    attempt(`${name}: inspect --root`, () => {
      let got = inspect([binFile], entry.roots);
      // Roots our API does not model (XML, subdocs) print in an unspecified way: only the listed
      // roots are compared here; (c) checks the rest survives.
      if (!entry.ops) got = Object.fromEntries(Object.keys(entry.roots).map((k) => [k, got[k]]));
      const d = jsonDiff(got, expected);
      t.check(`${name}: inspect --root`, !d, d);
    });
    const txUpdates = ops ? ops.steps.filter((s) => s.update && s.req.op !== 'apply').map((s) => unb64(s.update)) : [];
    if (ops) {
      attempt(`${name}: inspect (inferred roots)`, () => {
        const d = jsonDiff(inspect([binFile]), ops.expected_inferred);
        t.check(`${name}: inspect (inferred roots)`, !d, d);
      });
      attempt(`${name}: inspect of shuffled transaction updates with duplicates`, () => {
        const files = txUpdates.map((u, i) => writeTmp(`${name}-tx${i}.bin`, u));
        const order = r.shuffle([...files, ...files.filter(() => r.chance(0.3))]);
        const d = jsonDiff(inspect(order, entry.roots), expected);
        t.check(`${name}: inspect of shuffled transaction updates with duplicates`, !d, d && `${d} (order ${order.map((f) => path.basename(f)).join(' ')})`);
      });
    }

    // (b) driver replay, byte for byte
    if (ops) {
      await attemptAsync(`${name}: driver replay`, async () => {
        const peerMap = new Map();
        let mismatches = 0;
        for (const [i, step] of ops.steps.entries()) {
          const req = { ...step.req };
          if (req.op === 'new') peerMap.set(req.peer, nextPeer++);
          req.peer = peerMap.get(step.req.peer);
          const reply = await driver.must(req);
          if ('update' in step) {
            const got = reply.update === undefined ? '(missing)' : reply.update;
            if (got !== step.update) {
              mismatches++;
              t.fail(`${name}: step ${i} ${step.req.op} update bytes`,
                `request ${JSON.stringify(step.req).slice(0, 300)}\n     yjs: ${step.update === null ? null : Buffer.from(step.update, 'base64').toString('hex')}\n     ydoc: ${got === null ? null : Buffer.from(String(got), 'base64').toString('hex')}`);
            }
          }
        }
        t.check(`${name}: driver replay (${ops.steps.length} steps) byte-identical updates`, mismatches === 0, `${mismatches} step(s) differ`);
        const fin = await driver.must({ op: 'encode', peer: peerMap.get(ops.final_peer) });
        t.check(`${name}: driver full-state encoding byte-identical`, fin.update === ops.final_update,
          () => `\n     yjs:  ${Buffer.from(ops.final_update, 'base64').toString('hex')}\n     ydoc: ${Buffer.from(fin.update, 'base64').toString('hex')}`);
        const js = await driver.must({ op: 'json', peer: peerMap.get(ops.final_peer), roots: entry.roots });
        const d = jsonDiff(js.json, expected);
        t.check(`${name}: driver json`, !d, d);
        if (ops.expected_delta) {
          const dr = await driver.call({ op: 'delta', peer: peerMap.get(ops.final_peer), path: ['t'] });
          if (dr.ok) {
            const dd = jsonDiff(dr.delta, ops.expected_delta);
            t.check(`${name}: driver delta (formatting attributes, embeds)`, !dd, dd);
          } else process.stdout.write(`note ${name}: driver has no delta op (${dr.error}); formatting checked through bytes only\n`);
        }
        for (const p of peerMap.values()) await driver.must({ op: 'free', peer: p });
      });
    }

    // (c) what ydoc writes, yjs reads back as the same document
    attempt(`${name}: merge accepted by yjs`, () => {
      const merged = ydocToFile(['merge', binFile]);
      const d = jsonDiff(yjsFull(yjsDoc([merged]), yjsRoots), yjsExpected);
      t.check(`${name}: merge accepted by yjs`, !d, d);
      if (entry.missing_update) {
        const doc = yjsDoc([merged, unb64(entry.missing_update)]);
        t.check(`${name}: pending structs kept by merge`, doc.getText('t').toString() === entry.complete_text,
          `after the missing update yjs has ${JSON.stringify(doc.getText('t').toString())}, want ${JSON.stringify(entry.complete_text)}`);
      }
    });
    if (ops) {
      attempt(`${name}: merge of shuffled transaction updates`, () => {
        const files = r.shuffle(txUpdates.map((u, i) => writeTmp(`${name}-m${i}.bin`, u)));
        const merged = ydocToFile(['merge', ...files]);
        const d = jsonDiff(yjsFull(yjsDoc([merged]), yjsRoots), yjsExpected);
        t.check(`${name}: merge of shuffled transaction updates accepted by yjs`, !d, d);
      });
      attempt(`${name}: sv and diff`, () => {
        const sv = ydocToFile(['sv', binFile]);
        t.check(`${name}: sv equals yjs's`, b64(sv) === b64(Y.encodeStateVectorFromUpdate(bin)),
          () => `yjs ${Buffer.from(Y.encodeStateVectorFromUpdate(bin)).toString('hex')} ydoc ${Buffer.from(sv).toString('hex')}`);
        const k = txUpdates.length > 1 ? r.range(1, txUpdates.length - 1) : 0;
        const prefix = yjsDoc(txUpdates.slice(0, k));
        const svFile = writeTmp(`${name}-prefix.sv`, Y.encodeStateVector(prefix));
        const diff = ydocToFile(['diff', '--sv', svFile, binFile]);
        Y.applyUpdate(prefix, diff);
        const d = jsonDiff(yjsFull(prefix, yjsRoots), yjsExpected);
        t.check(`${name}: diff against the state after ${k} transactions completes it in yjs`, !d, d);
        const jsDiff = Y.encodeStateAsUpdate(yjsDoc([bin]), Y.encodeStateVector(yjsDoc(txUpdates.slice(0, k))));
        t.check(`${name}: diff no larger than yjs's (+16 bytes)`, diff.length <= jsDiff.length + 16,
          `${diff.length} bytes vs yjs ${jsDiff.length}`);
      });
    }
  }
  const exitProblem = await driver.close();
  if (exitProblem) t.fail('driver exit', exitProblem);
  fs.rmSync(tmp, { recursive: true, force: true });
  t.finish();
}
main().catch((e) => { t.fail('golden', e.stack); t.finish(); });
