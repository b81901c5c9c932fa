#!/usr/bin/env node
'use strict';
// Seeds fuzz/corpus/crdt_sync with messages made by the real y-protocols package: sync step 1/2 and
// update messages carrying golden updates, awareness updates (join, change, leave), and frame streams
// in the fuzz target's format (each y-websocket frame prefixed by one length byte).
// Run once before fuzzing; libFuzzer grows the corpus from there (then minimise, see docs).
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { createRequire } = require('module');
const { Y } = require('./lib/values');

const req = createRequire(path.resolve(__dirname, '../../node/package.json'));
const encoding = req('lib0/encoding');
const syncProtocol = req('y-protocols/sync');
const awarenessProtocol = req('y-protocols/awareness');

const out = path.resolve(__dirname, '../../../fuzz/corpus/crdt_sync');
fs.mkdirSync(out, { recursive: true });
const put = (bytes) => fs.writeFileSync(path.join(out, crypto.createHash('sha1').update(bytes).digest('hex')), bytes);
const msg = (fn) => { const e = encoding.createEncoder(); fn(e); return encoding.toUint8Array(e); };
const frameStream = (frames) => Buffer.concat(frames.filter((f) => f.length < 256).map((f) => Buffer.concat([Buffer.from([f.length]), Buffer.from(f)])));

const goldenDir = path.join(__dirname, 'golden');
const small = fs.readdirSync(goldenDir).filter((f) => f.endsWith('.bin')).map((f) => fs.readFileSync(path.join(goldenDir, f)))
  .filter((b) => b.length < 240);
const doc = new Y.Doc();
doc.clientID = 5;
doc.getText('t').insert(0, 'hello');
const frames = [];
// Sync messages without frame kind (what DecodeSyncMessage reads) and as frames (kind 0 first).
for (const u of [...small, Y.encodeStateAsUpdate(doc)]) {
  const step2 = msg((e) => syncProtocol.writeUpdate(e, u));
  const update = msg((e) => { encoding.writeVarUint(e, syncProtocol.messageYjsUpdate); encoding.writeVarUint8Array(e, u); });
  put(step2); put(update);
  frames.push(msg((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeUpdate(e, u); }));
}
const step1 = msg((e) => syncProtocol.writeSyncStep1(e, doc));
put(step1);
frames.unshift(msg((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep1(e, doc); }));
frames.push(msg((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep2(e, doc); }));
// Awareness: join, change, leave.
const aw = new awarenessProtocol.Awareness(doc);
aw.setLocalState({ user: { name: 'alice', color: '#f00' }, cursor: { anchor: 3, head: 5 } });
const a1 = awarenessProtocol.encodeAwarenessUpdate(aw, [doc.clientID]);
aw.setLocalStateField('cursor', null);
const a2 = awarenessProtocol.encodeAwarenessUpdate(aw, [doc.clientID]);
aw.setLocalState(null);
const a3 = awarenessProtocol.encodeAwarenessUpdate(aw, [doc.clientID]);
for (const a of [a1, a2, a3]) {
  put(a);
  frames.push(msg((e) => { encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, a); }));
}
frames.push(msg((e) => { encoding.writeVarUint(e, 3); })); // query awareness
frames.push(msg((e) => { encoding.writeVarUint(e, 2); encoding.writeVarUint(e, 0); encoding.writeVarString(e, 'permission denied'); }));
for (const f of frames) put(frameStream([f]));
put(frameStream(frames.slice(0, 6)));
put(frameStream(frames));
put(frameStream([...frames].reverse()));
aw.destroy(); // its timer would keep node alive
process.stdout.write(`seeded ${fs.readdirSync(out).length} files in ${out}\n`);
