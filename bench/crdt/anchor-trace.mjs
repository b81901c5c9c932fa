#!/usr/bin/env node
// The other JavaScript anchors of the automerge-paper benchmark: replays the trace into the text of
// json-joy (its JSON CRDT `str` node) or loro-crdt (a LoroText), one change per patch (json-joy:
// the ops of a patch flushed as one json-joy Patch; loro: one commit), verifies endContent, and
// prints one JSON line: {peer, version, replay_ms, ok}. Both load as applications load them
// (`import`), resolved through bench/crdt/node_modules (a link to tests/node/node_modules).
//   node anchor-trace.mjs json-joy|loro TRACE.json.gz
import fs from 'node:fs';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';

const [peer, file] = process.argv.slice(2);
if (!file || !['json-joy', 'loro'].includes(peer)) {
  process.stdout.write('usage: node anchor-trace.mjs json-joy|loro TRACE.json.gz\n');
  process.exit(2);
}
const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(file)).toString('utf8'));
const pkg = peer === 'loro' ? 'loro-crdt' : 'json-joy';
const version = createRequire(import.meta.url)(`${pkg}/package.json`).version;

// Each peer: {insert(pos, text), remove(pos, len), commit(), text()}; positions in UTF-16 units.
async function open() {
  if (peer === 'json-joy') {
    const { Model } = await import('json-joy/lib/json-crdt/index.js');
    const { s } = await import('json-joy/lib/json-crdt-patch/index.js');
    const model = Model.create(undefined, 100001);  // session ids below 65536 are reserved
    model.api.root(s.str(''));
    model.api.flush();
    const str = model.api.str([]);
    return {
      insert: (pos, text) => str.ins(pos, text),
      remove: (pos, len) => str.del(pos, len),
      commit: () => model.api.flush(),
      text: () => model.view(),
    };
  }
  const { LoroDoc } = await import('loro-crdt');
  const doc = new LoroDoc();
  doc.setPeerId(1);
  const text = doc.getText('text');
  return {
    insert: (pos, s) => text.insert(pos, s),
    remove: (pos, len) => text.delete(pos, len),
    commit: () => doc.commit(),
    text: () => text.toString(),
  };
}

const d = await open();
if (trace.startContent) {
  d.insert(0, trace.startContent);
  d.commit();
}
const t0 = performance.now();
for (const txn of trace.txns) {
  for (const [pos, del, ins] of txn.patches) {
    if (del > 0) d.remove(pos, del);
    if (ins) d.insert(pos, ins);
    d.commit();
  }
}
const replayMs = performance.now() - t0;
const ok = d.text() === trace.endContent;
process.stdout.write(JSON.stringify({ peer, version, replay_ms: +replayMs.toFixed(1), ok }) + '\n');
process.exit(ok ? 0 : 1);
