#!/usr/bin/env node
'use strict';
// Differential tests of the C++ CRDT against the real yjs: seeded random sessions of 2-5 peers, each
// peer a yjs Y.Doc in this process or a C++ doc in one long-lived `ydoc driver` process. Peers make
// concurrent edits (text inserts/deletes/formatting/embeds with emoji, ZWJ sequences and CRLF; map
// sets of every value kind and deletes; nested maps, texts and arrays; array ops; gc on, off or
// mixed); updates travel in random order with duplicates, sometimes merged (mergeUpdates) or as diffs
// against a state vector. At the end every replica must print the same canonical JSON, and full
// states and diffs encoded by one side must give the same document on the other side.
// Every C++ peer also has a yjs "twin" (same client id, same ops, same updates applied in the same
// order): the update each transaction emits must be byte-identical to the twin's, and the document
// must read the same after every step (pending structs integrate exactly when yjs integrates them).
//
// usage: diff.js [--driver PATH|ref] [--seed S] [--first N] [--sessions N] [--session N] [--trace]
//   --session N replays one session (with --seed S) and prints its requests with --trace.
//   VAULTD_CONFORMANCE_SESSIONS overrides --sessions (long mode); VAULTD_CONFORMANCE_SEED the seed.
const path = require('path');
const { Y, b64, unb64, docJson, jsonDiff } = require('./lib/values');
const { DriverCore } = require('./lib/driver-core');
const { openDriver } = require('./lib/driver-client');
const { rng, Tally, argValue } = require('./lib/run');

const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  process.stdout.write('usage: diff.js [--driver PATH|ref] [--seed S] [--first N] [--sessions N] [--session N] [--trace] [--no-twin]\n');
  process.exit(0);
}
const driverSpec = argValue(argv, '--driver', path.resolve(__dirname, '../../../build/bin/ydoc'));
const seed = Number(argValue(argv, '--seed', process.env.VAULTD_CONFORMANCE_SEED || String(Math.floor(Math.random() * 1e9))));
const single = argValue(argv, '--session', null);
const first = single !== null ? Number(single) : Number(argValue(argv, '--first', '0'));
const sessions = single !== null ? 1 : Number(process.env.VAULTD_CONFORMANCE_SESSIONS || argValue(argv, '--sessions', '100'));
const trace = argv.includes('--trace');
const twinCheck = !argv.includes('--no-twin');
const ROOTS = { t: 'text', m: 'map', a: 'array' };

// ---- random content --------------------------------------------------------------------------
const TEXT_PIECES = ['a', 'b', 'hello', ' ', 'world', '\r\n', '\n', '😀', '👩‍👩‍👧', '👍🏽', '🇫🇷', 'e\u0301', 'é',
  '日本', 'ß', '\t', 'xyz', '—', '𝄞', '\u200d'];
const ATTRS = [{ bold: true }, { bold: null }, { italic: true }, { italic: null }, { color: '#f00' },
  { color: '#00f', bold: true }, { href: 'https://x.test/é' }, { header: 1 }];
const PLAIN_KEYS = ['k0', 'k1', 'k2', 'k3', 'é', '😀', '', 'a b', 'long-key-name-'.repeat(3)];
const NESTED_KEYS = ['T0', 'T1', 'M0', 'M1', 'A0', 'A1'];

function randText(r) {
  let s = '';
  const n = r.range(1, 4);
  for (let i = 0; i < n; i++) s += r.chance(0.1) ? r.pick(TEXT_PIECES).repeat(r.range(2, 40)) : r.pick(TEXT_PIECES);
  return s;
}
function randNumber(r) {
  return r.pick([0, 1, -1, 42, 63, 64, -64, 127, 128, 2147483647, -2147483647, 2147483648, -2147483649,
    9007199254740991, -9007199254740991, 9007199254740992, 0.5, -1.5, 0.1, 1e300, -2.5e-8, 3.4028234663852886e38,
    r.range(-1000000, 1000000), r.float() * 1000, r.u32() * 4096 + r.u32()]);
}
function randString(r) { return r.chance(0.2) ? '' : randText(r); }
// An Any value (JSON transport). depth bounds nesting; top=false inside arrays/objects.
function randAny(r, depth, { allowUndefined, allowBigint }) {
  const kinds = ['null', 'bool', 'num', 'num', 'str', 'str', 'bin'];
  if (depth > 0) kinds.push('arr', 'obj');
  if (allowUndefined) kinds.push('undef');
  if (allowBigint) kinds.push('bigint');
  switch (r.pick(kinds)) {
    case 'null': return null;
    case 'bool': return r.chance(0.5);
    case 'num': return randNumber(r);
    case 'str': return randString(r);
    case 'bin': return { $binary: b64(new Uint8Array(r.range(0, 6)).map(() => r.int(256))) };
    case 'undef': return { $undefined: true };
    case 'bigint': return { $bigint: r.pick(['0', '-1', '123456789012345678', '-9223372036854775808', '9223372036854775807', String(r.u32())]) };
    case 'arr': {
      const n = r.range(0, 3); const a = [];
      for (let i = 0; i < n; i++) a.push(randAny(r, depth - 1, { allowUndefined: true, allowBigint: true }));
      return a;
    }
    default: {
      const n = r.range(0, 3); const o = {};
      for (let i = 0; i < n; i++) o[r.pick(PLAIN_KEYS)] = randAny(r, depth - 1, { allowUndefined: true, allowBigint: true });
      return o;
    }
  }
}

// ---- targets: what a peer's canonical JSON says it can edit ------------------------------------
// Convention (all peers share it): map keys T*, M*, A* hold a nested Y.Text, Y.Map, Y.Array; maps
// inserted into arrays get the marker key "$m" (so an Any object in an array is never taken for one).
function targets(json) {
  const out = { text: [{ path: ['t'], len: json.t.length, str: json.t }], map: [{ path: ['m'], keys: Object.keys(json.m) }],
    array: [{ path: ['a'], len: json.a.length }] };
  const walkMap = (obj, p, depth) => {
    if (depth > 3) return;
    for (const [k, v] of Object.entries(obj)) {
      if (k[0] === 'T' && typeof v === 'string') out.text.push({ path: [...p, k], len: v.length, str: v });
      else if (k[0] === 'M' && v && typeof v === 'object' && !Array.isArray(v)) {
        out.map.push({ path: [...p, k], keys: Object.keys(v) }); walkMap(v, [...p, k], depth + 1);
      } else if (k[0] === 'A' && Array.isArray(v)) { out.array.push({ path: [...p, k], len: v.length }); walkArray(v, [...p, k], depth + 1); }
    }
  };
  const walkArray = (arr, p, depth) => {
    if (depth > 3) return;
    arr.forEach((v, i) => {
      if (v && typeof v === 'object' && !Array.isArray(v) && v.$m === true) {
        out.map.push({ path: [...p, i], keys: Object.keys(v) }); walkMap(v, [...p, i], depth + 1);
      }
    });
  };
  walkMap(json.m, ['m'], 1);
  walkArray(json.a, ['a'], 1);
  return out;
}

// yjs itself does not converge when concurrent peers split surrogate pairs with gc off (the halves
// become U+FFFD on some replicas only), so indices are moved to code point boundaries unless the
// session allows splits (gc on everywhere); golden/text_emoji_surrogates covers the split itself.
function snap(str, i, allowSplit) {
  if (allowSplit || i <= 0 || i >= str.length) return i;
  const hi = str.charCodeAt(i - 1); const lo = str.charCodeAt(i);
  return hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff ? i - 1 : i;
}

// The text a peer's indices really count: toString() skips embeds, Y.Text indices do not. `layout`
// is built from toDelta() (one placeholder unit per embed) when the driver has `delta`.
function layoutOf(delta) {
  return delta.map((d) => (typeof d.insert === 'string' ? d.insert : '\u0000')).join('');
}

function textOp(r, peer, tx, layout, allowSplit, allowEmbed) {
  const len = layout.length;
  const k = r.float();
  if (k < 0.55 || len === 0) {
    const req = { op: 'text.insert', peer, path: tx.path, index: snap(layout, r.int(len + 1), allowSplit), text: randText(r) };
    if (r.chance(0.1)) req.attrs = r.pick(ATTRS);
    return req;
  }
  const index = snap(layout, r.int(len), allowSplit);
  const end = snap(layout, index + r.range(1, Math.min(len - index, r.chance(0.2) ? 50 : 6)), allowSplit);
  if (end <= index) return { op: 'text.insert', peer, path: tx.path, index, text: randText(r) };
  const length = end - index;
  if (k < 0.85) return { op: 'text.delete', peer, path: tx.path, index, length };
  if (k < 0.95 || !allowEmbed) return { op: 'text.format', peer, path: tx.path, index, length, attrs: r.pick(ATTRS) };
  const req = { op: 'text.embed', peer, path: tx.path, index: snap(layout, r.int(len + 1), allowSplit), value: { image: `img${r.int(10)}.png` } };
  if (r.chance(0.3)) req.attrs = { width: r.range(1, 9) };
  return req;
}

// One mutating request for a peer whose canonical JSON is `json`; text ops ask getLayout(path).
async function randOp(r, peer, json, allowSplit, getLayout) {
  const tg = targets(json);
  const roll = r.float();
  if (roll < 0.42) {
    const tx = r.chance(0.75) ? tg.text[0] : r.pick(tg.text);
    const layout = await getLayout(tx);
    return textOp(r, peer, tx, layout === null ? tx.str : layout, allowSplit, layout !== null);
  }
  if (roll < 0.75) {
    const m = r.chance(0.6) ? tg.map[0] : r.pick(tg.map);
    if (m.keys.length > 0 && r.chance(0.2)) return { op: 'map.delete', peer, path: m.path, key: r.chance(0.9) ? r.pick(m.keys) : 'never-set' };
    if (r.chance(0.3) && m.path.length < 4) {
      const key = r.pick(NESTED_KEYS);
      if (!m.keys.includes(key) || r.chance(0.2)) {
        return { op: 'map.set', peer, path: m.path, key, value: { $type: key[0] === 'T' ? 'text' : key[0] === 'M' ? 'map' : 'array' } };
      }
    }
    const value = r.chance(0.15) ? { $binary: b64(new Uint8Array(r.range(0, 40)).map(() => r.int(256))) }
      : randAny(r, 2, { allowUndefined: true, allowBigint: true });
    return { op: 'map.set', peer, path: m.path, key: r.pick(PLAIN_KEYS), value };
  }
  const a = r.chance(0.7) ? tg.array[0] : r.pick(tg.array);
  if (a.len > 0 && r.chance(0.35)) {
    const index = r.int(a.len);
    return { op: 'array.delete', peer, path: a.path, index, length: r.range(1, Math.min(a.len - index, 4)) };
  }
  const values = [];
  const n = r.range(1, 3);
  for (let i = 0; i < n; i++) {
    const k = r.float();
    if (k < 0.1 && a.path.length < 4) values.push({ $type: 'map' });
    else if (k < 0.14) values.push({ $type: 'text' });
    else if (k < 0.17) values.push({ $type: 'array' });
    else values.push(randAny(r, 2, { allowUndefined: false, allowBigint: false }));
  }
  return { op: 'array.insert', peer, path: a.path, index: r.int(a.len + 1), values };
}

// toDelta() may cut a run of equal attributes in two (item boundaries); compare merged runs.
function normalizeDelta(delta) {
  const out = [];
  for (const d of delta) {
    const prev = out[out.length - 1];
    if (prev && typeof prev.insert === 'string' && typeof d.insert === 'string' &&
        jsonDiff(prev.attributes || {}, d.attributes || {}) === null) prev.insert += d.insert;
    else out.push({ ...d });
  }
  return out;
}

// ---- peers -------------------------------------------------------------------------------------
class Fail extends Error {}

class Session {
  constructor(num, driver, jsCore, twinCore, caps) {
    this.num = num;
    this.r = rng((seed * 1000003 + num * 7919) >>> 0 ^ num);
    this.driver = driver;
    this.jsCore = jsCore;
    this.twinCore = twinCore;
    this.caps = caps;
    this.log = [];
  }

  async call(p, req) {
    if (trace) process.stdout.write(`  -> ${p.kind}${p.kind === 'cpp' ? '' : ''} ${JSON.stringify(req)}\n`);
    const reply = p.kind === 'js' ? this.jsCore.handle(req) : await this.driver.call(req);
    if (trace) process.stdout.write(`  <- ${JSON.stringify(reply).slice(0, 400)}\n`);
    return reply;
  }
  async must(p, req) {
    const reply = await this.call(p, req);
    if (!reply || reply.ok !== true) throw new Fail(`${p.kind} peer ${p.idx} failed ${JSON.stringify(req).slice(0, 400)}: ${reply && reply.error}`);
    if (p.twin && twinCheck && req.op === 'json') {
      // Intermediate states too (pending structs, partial delete sets): same history, same document.
      const t = this.twinCore.handle({ ...req, peer: p.twin });
      const d = jsonDiff(reply.json, t.json);
      if (d) throw new Fail(`cpp peer ${p.idx} (client ${p.client}) reads differently from its yjs twin (same history) at ${d}`);
    }
    if (p.twin && twinCheck && (req.op === 'apply' || 'update' in reply)) {
      const t = this.twinCore.handle({ ...req, peer: p.twin });
      if (!t.ok) throw new Fail(`yjs twin failed ${JSON.stringify(req).slice(0, 300)}: ${t.error}`);
      if ('update' in t && t.update !== reply.update) {
        throw new Fail(`update bytes differ from yjs for ${JSON.stringify(req).slice(0, 400)} on cpp peer ${p.idx} (client ${p.client})\n` +
          `     yjs:  ${t.update === null ? null : Buffer.from(t.update, 'base64').toString('hex')}\n` +
          `     ydoc: ${reply.update === null || reply.update === undefined ? reply.update : Buffer.from(reply.update, 'base64').toString('hex')}`);
      }
    }
    return reply;
  }
  async json(p) {
    if (!p.json) p.json = (await this.must(p, { op: 'json', peer: p.id, roots: ROOTS })).json;
    return p.json;
  }
  async apply(p, update) {
    p.json = null;
    await this.must(p, { op: 'apply', peer: p.id, update });
  }

  async run() {
    const r = this.r;
    const n = r.range(2, 5);
    const gcMode = r.pick(['on', 'off', 'mixed']);
    const kinds = [];
    for (let i = 0; i < n; i++) kinds.push(i === 0 ? 'js' : i === 1 ? 'cpp' : r.chance(0.5) ? 'js' : 'cpp');
    r.shuffle(kinds);
    const clients = new Set();
    this.peers = [];
    for (let i = 0; i < n; i++) {
      let client;
      do {
        client = r.chance(0.15) ? r.int(20) : r.chance(0.05) ? r.u32() * 1024 + r.int(1024) : r.u32();
      } while (clients.has(client));
      clients.add(client);
      const gc = gcMode === 'on' ? true : gcMode === 'off' ? false : r.chance(0.5);
      const p = { idx: i, kind: kinds[i], id: this.num * 8 + i + 1, client, gc, inbox: [], json: null, twin: null };
      await this.must(p, { op: 'new', peer: p.id, client, gc });
      if (p.kind === 'cpp' && twinCheck) {
        p.twin = p.id;
        this.twinCore.handle({ op: 'new', peer: p.twin, client, gc });
      }
      this.peers.push(p);
    }
    this.allowSplit = false;
    this.desc = `${this.allowSplit ? 'surrogate splits, ' : ''}${n} peers [${this.peers.map((p) => `${p.kind}:${p.client}${p.gc ? '' : ' nogc'}`).join(', ')}]`;
    const steps = r.range(10, 45);
    let snapshot = null;
    for (let s = 0; s < steps; s++) {
      if (s === Math.floor(steps / 2)) {
        const p = r.pick(this.peers);
        snapshot = (await this.must(p, { op: 'encode', peer: p.id })).update;
      }
      if (r.chance(0.65)) await this.edit(r.pick(this.peers));
      else await this.deliver();
    }
    await this.finish(snapshot);
  }

  async edit(p) {
    const req = await randOp(this.r, p.id, await this.json(p), this.allowSplit, async (tx) => {
      if (p.kind === 'cpp' && !this.caps.delta) return null; // no embeds then: toString() is the layout
      return layoutOf((await this.must(p, { op: 'delta', peer: p.id, path: tx.path })).delta);
    });
    p.json = null;
    const reply = await this.must(p, req);
    if (reply.update) for (const q of this.peers) if (q !== p) q.inbox.push(reply.update);
    // A map inserted into an array gets its marker at once (a second transaction).
    if (req.op === 'array.insert') {
      for (let i = 0; i < req.values.length; i++) {
        if (req.values[i] && req.values[i].$type === 'map') {
          const m = await this.must(p, { op: 'map.set', peer: p.id, path: [...req.path, req.index + i], key: '$m', value: true });
          if (m.update) for (const q of this.peers) if (q !== p) q.inbox.push(m.update);
        }
      }
    }
  }

  // Some engine (yjs here or the C++ driver) merges / diffs: both must be right.
  async engineMerge(updates) {
    if (this.r.chance(0.5) || !this.caps.merge) return b64(Y.mergeUpdates(updates.map(unb64)));
    return (await this.driver.must({ op: 'merge', updates })).update;
  }
  async engineDiff(update, sv) {
    if (this.r.chance(0.5) || !this.caps.diff) return b64(Y.diffUpdate(unb64(update), unb64(sv)));
    return (await this.driver.must({ op: 'diff', update, sv })).update;
  }

  async deliver() {
    const r = this.r;
    const withMail = this.peers.filter((p) => p.inbox.length > 0);
    if (withMail.length === 0) return;
    const q = r.pick(withMail);
    const k = r.float();
    if (k < 0.65) {
      const i = r.int(q.inbox.length);
      const u = q.inbox[i];
      if (!r.chance(0.2)) q.inbox.splice(i, 1); // else: delivered again later (duplicate)
      await this.apply(q, u);
    } else if (k < 0.8) {
      const batch = r.shuffle([...q.inbox]).slice(0, r.range(1, q.inbox.length));
      for (const u of batch) if (!r.chance(0.2)) q.inbox.splice(q.inbox.indexOf(u), 1);
      await this.apply(q, await this.engineMerge(batch));
    } else {
      // Sync step 2 from another peer: what q lacks according to its state vector.
      const from = r.pick(this.peers.filter((p) => p !== q));
      const sv = (await this.must(q, { op: 'sv', peer: q.id })).sv;
      let u;
      if (r.chance(0.6)) u = (await this.must(from, { op: 'encode', peer: from.id, sv })).update;
      else u = await this.engineDiff((await this.must(from, { op: 'encode', peer: from.id })).update, sv);
      await this.apply(q, u);
    }
  }

  async finish(snapshot) {
    const r = this.r;
    for (const q of this.peers) {
      for (const u of r.shuffle(q.inbox.splice(0))) await this.apply(q, u);
    }
    const jsons = [];
    for (const p of this.peers) jsons.push(await this.json(p));
    for (let i = 1; i < jsons.length; i++) {
      const d = jsonDiff(jsons[i], jsons[0]);
      if (d) throw new Fail(`replicas differ: ${this.peers[i].kind} peer ${i} vs ${this.peers[0].kind} peer 0 at ${d}`);
    }
    const want = jsons[0];
    // Formatting: yjs replicas do not always agree on toDelta() after concurrent formatting, so
    // each C++ peer is compared with its yjs twin (same client, same history, same order).
    if (this.caps.delta && twinCheck) {
      for (const p of this.peers.filter((q) => q.twin)) {
        const dl = await this.must(p, { op: 'delta', peer: p.id, path: ['t'] });
        const tw = this.twinCore.handle({ op: 'delta', peer: p.twin, path: ['t'] });
        const d = jsonDiff(normalizeDelta(dl.delta), normalizeDelta(tw.delta));
        if (d) throw new Fail(`text delta (formatting, embeds) of cpp peer ${p.idx} differs from its yjs twin at ${d}`);
      }
    }
    // Cross-encoding: full states and diffs made by one side, read by the other.
    const svSnap = b64(Y.encodeStateVector(this.freshJs([snapshot])));
    const cpp = this.peers.filter((p) => p.kind === 'cpp');
    const js = this.peers.filter((p) => p.kind === 'js');
    for (const p of cpp) {
      const full = (await this.must(p, { op: 'encode', peer: p.id })).update;
      this.expectJs(`full state of cpp peer ${p.idx} read by yjs`, [full], want);
      const diff = (await this.must(p, { op: 'encode', peer: p.id, sv: svSnap })).update;
      this.expectJs(`diff (encode with sv) of cpp peer ${p.idx} read by yjs on top of the mid-session snapshot`, [snapshot, diff], want);
    }
    for (const p of js) {
      const full = (await this.must(p, { op: 'encode', peer: p.id })).update;
      await this.expectCpp(`full state of js peer ${p.idx} read by ydoc`, [full], want);
      const diff = (await this.must(p, { op: 'encode', peer: p.id, sv: svSnap })).update;
      await this.expectCpp(`diff of js peer ${p.idx} read by ydoc on top of the mid-session snapshot`, [snapshot, diff], want);
      if (this.caps.diff) {
        const cdiff = (await this.driver.must({ op: 'diff', update: full, sv: svSnap })).update;
        this.expectJs(`ydoc diffUpdate of js peer ${p.idx}'s state read by yjs on top of the snapshot`, [snapshot, cdiff], want);
      }
      if (this.caps.merge) {
        const merged = (await this.driver.must({ op: 'merge', updates: [full, snapshot] })).update;
        this.expectJs(`ydoc mergeUpdates of js peer ${p.idx}'s state and the snapshot read by yjs`, [merged], want);
      }
    }
    for (const p of this.peers) {
      await this.must(p, { op: 'free', peer: p.id });
      if (p.twin) this.twinCore.handle({ op: 'free', peer: p.twin });
    }
  }

  freshJs(updates) {
    const d = new Y.Doc();
    for (const u of updates) Y.applyUpdate(d, unb64(u));
    return d;
  }
  expectJs(what, updates, want) {
    let got;
    try { got = docJson(this.freshJs(updates), ROOTS); } catch (e) { throw new Fail(`${what}: yjs threw ${e.message}`); }
    const d = jsonDiff(got, want);
    if (d) throw new Fail(`${what}: differs at ${d}`);
  }
  async expectCpp(what, updates, want) {
    const id = this.num * 8 + 7;
    const probe = { kind: 'cpp', idx: 'probe', id };
    // A client id no session peer uses (yjs would change a clashing one, and so may ydoc).
    await this.must(probe, { op: 'new', peer: id, client: 4294967296 + 12345, gc: true });
    try {
      for (const u of updates) await this.must(probe, { op: 'apply', peer: id, update: u });
      const got = (await this.must(probe, { op: 'json', peer: id, roots: ROOTS })).json;
      const d = jsonDiff(got, want);
      if (d) throw new Fail(`${what}: differs at ${d}`);
    } finally {
      await this.driver.call({ op: 'free', peer: id });
    }
  }
}

async function probeCaps(driver) {
  const caps = {};
  const u = b64(Y.encodeStateAsUpdate(new Y.Doc()));
  caps.merge = (await driver.call({ op: 'merge', updates: [u] })).ok === true;
  caps.diff = (await driver.call({ op: 'diff', update: u, sv: b64(new Uint8Array([0])) })).ok === true;
  await driver.call({ op: 'new', peer: 0, client: 1 });
  caps.delta = (await driver.call({ op: 'delta', peer: 0, path: ['t'] })).ok === true;
  await driver.call({ op: 'free', peer: 0 });
  return caps;
}

async function main() {
  const t = new Tally('diff');
  const replay = (n) => `node ${path.relative(process.cwd(), __filename)} --driver ${driverSpec} --seed ${seed} --session ${n}`;
  process.stdout.write(`diff: seed=${seed} sessions ${first}..${first + sessions - 1} driver=${driverSpec}\n`);
  let driver = openDriver(driverSpec);
  let caps;
  try { caps = await probeCaps(driver); } catch (e) {
    t.fail('driver start', e.message);
    t.finish();
  }
  for (const [k, v] of Object.entries(caps)) if (!v) process.stdout.write(`note: driver has no '${k}' op; those checks use yjs only\n`);
  const jsCore = new DriverCore();
  const twinCore = new DriverCore();
  const started = Date.now();
  for (let n = first; n < first + sessions; n++) {
    const s = new Session(n, driver, jsCore, twinCore, caps);
    try {
      await s.run();
      t.ok(`session ${n}`);
    } catch (e) {
      t.fail(`seed=${seed} session=${n} ${s.desc || ''}`, `${e instanceof Fail ? e.message : e.stack}\n     replay: ${replay(n)} --trace`);
      jsCore.peers.clear();
      twinCore.peers.clear();
      if (driver.dead) {
        driver = openDriver(driverSpec);
      } else {
        for (let i = 0; i < 8; i++) await driver.call({ op: 'free', peer: n * 8 + i }).catch(() => {});
      }
    }
  }
  const exitProblem = await driver.close();
  if (exitProblem) t.fail('driver exit', exitProblem);
  process.stdout.write(`diff: ${sessions} sessions in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  t.finish();
}
main();
