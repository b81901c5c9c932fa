#!/usr/bin/env node
// The yjs side of the automerge-paper benchmark: replays the trace into a Y.Text in the real yjs
// (one transaction per patch), verifies endContent, then encodeStateAsUpdate and decode (applyUpdate
// into a fresh doc). Prints one JSON line, the same fields as `ydoc apply-trace`, plus doc_heap_bytes
// (JS heap held by the replayed doc, measured with --expose-gc).
// yjs is loaded as applications load it: `import` picks its ES module build (dist/yjs.mjs); a
// require() would get the CommonJS build (dist/yjs.cjs), several times slower on this trace.
// `yjs` resolves through bench/crdt/node_modules, a link to tests/node/node_modules (the pinned
// version).
//   node [--expose-gc] yjs-trace.mjs TRACE.json.gz [--baseline] [--write UPDATE]
//   node yjs-trace.mjs --load UPDATE
// --baseline loads yjs and parses the trace, then exits: the node process's RSS without a document.
// --write saves the final update; --load decodes one into a doc and holds it (the memory of the
// document alone, against the same run on an empty update).
import fs from 'node:fs';
import zlib from 'node:zlib';
import * as Y from 'yjs';

const args = process.argv.slice(2);
if (args.length === 0 || args.includes('--help')) {
  process.stdout.write('usage: node [--expose-gc] yjs-trace.mjs TRACE.json.gz [--baseline] [--write UPDATE] | --load UPDATE\n');
  process.exit(args.length === 0 ? 2 : 0);
}
if (args[0] === '--load') {
  const d = new Y.Doc();
  Y.applyUpdate(d, new Uint8Array(fs.readFileSync(args[1])));
  const n = d.getText('text').length;
  process.stdout.write(JSON.stringify({ loaded: true, length: n }) + '\n');
  process.exit(0);
}
const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(args[0])).toString('utf8'));
if (args.includes('--baseline')) {
  process.stdout.write(JSON.stringify({ baseline: true, patches: trace.txns.length }) + '\n');
  process.exit(0);
}
const gc = typeof global.gc === 'function' ? global.gc : null;
if (gc) gc();
const heapBefore = process.memoryUsage().heapUsed;

const doc = new Y.Doc();
doc.clientID = 1;
const text = doc.getText('text');
if (trace.startContent) text.insert(0, trace.startContent);
let t0 = performance.now();
for (const txn of trace.txns) {
  for (const [pos, del, ins] of txn.patches) {
    doc.transact(() => {
      if (del > 0) text.delete(pos, del);
      if (ins) text.insert(pos, ins);
    });
  }
}
const replayMs = performance.now() - t0;
let ok = text.toString() === trace.endContent;
if (gc) gc();
const docHeap = process.memoryUsage().heapUsed - heapBefore;

t0 = performance.now();
const update = Y.encodeStateAsUpdate(doc);
const encodeMs = performance.now() - t0;
t0 = performance.now();
const doc2 = new Y.Doc();
Y.applyUpdate(doc2, update);
const decodeMs = performance.now() - t0;
ok = ok && doc2.getText('text').toString() === trace.endContent;

const wi = args.indexOf('--write');
if (wi >= 0) fs.writeFileSync(args[wi + 1], update);
process.stdout.write(JSON.stringify({
  replay_ms: +replayMs.toFixed(1), encode_ms: +encodeMs.toFixed(2), decode_ms: +decodeMs.toFixed(2),
  bytes: update.length, ok, doc_heap_bytes: gc ? docHeap : null,
}) + '\n');
process.exit(ok ? 0 : 1);
