#!/usr/bin/env node
'use strict';
// Generates the golden files in golden/ with the real yjs (tests/node, pinned 13.6.x):
//   NAME.bin       the final document as Y.encodeStateAsUpdate (update v1)
//   NAME.json      the expected canonical JSON (`ydoc inspect --root ...` of NAME.bin)
//   NAME.ops.json  the driver requests that built it, each with the update yjs emitted for it
// Run `node gen-golden.js` after a yjs upgrade and review the diff; the tests never regenerate.
const fs = require('fs');
const path = require('path');
const { Y, b64, docJson, canonValue, canonicalStringify } = require('./lib/values');
const { DriverCore } = require('./lib/driver-core');

const outDir = path.join(__dirname, 'golden');

// A scenario is driven through the same DriverCore the reference driver uses, so its op list is,
// by construction, valid input for `ydoc driver`.
class Recorder {
  constructor(name, description) {
    this.name = name;
    this.description = description;
    this.core = new DriverCore();
    this.peers = [];
    this.steps = [];
  }
  peer(peer, client, gc = true) {
    this.run({ op: 'new', peer, client, gc });
    this.peers.push({ peer, client, gc });
  }
  run(req) {
    const reply = this.core.handle(req);
    if (!reply.ok) throw new Error(`${this.name}: ${JSON.stringify(req)} -> ${reply.error}`);
    const step = { req };
    if ('update' in reply) step.update = reply.update;
    this.steps.push(step);
    return reply;
  }
  // Deliver everything `from` has that `to` lacks (as a real provider's sync step 2 would).
  sync(from, to) {
    const sv = this.core.handle({ op: 'sv', peer: to }).sv;
    const upd = this.core.handle({ op: 'encode', peer: from, sv }).update;
    this.run({ op: 'apply', peer: to, update: upd });
  }
  doc(peer) { return this.core.peers.get(peer).doc; }
}

const scenarios = [];
function scenario(name, description, opts, fn) { scenarios.push({ name, description, opts, fn }); }

const T = ['t'];
const M = ['m'];
const A = ['a'];

scenario('text_insert', 'Y.Text inserts: prepend, middle, append; a 300-char run (multi-byte varUint lengths)',
  { roots: { t: 'text' } }, (r) => {
    r.peer(1, 1);
    r.run({ op: 'text.insert', peer: 1, path: T, index: 0, text: 'ab' });
    r.run({ op: 'text.insert', peer: 1, path: T, index: 1, text: 'XY' });
    r.run({ op: 'text.insert', peer: 1, path: T, index: 4, text: 'end' });
    r.run({ op: 'text.insert', peer: 1, path: T, index: 0, text: 'start ' });
    r.run({ op: 'text.insert', peer: 1, path: T, index: 3, text: 'lorem ipsum '.repeat(25) });
  });

scenario('text_delete', 'Y.Text deletes inside one item, across items, everything, then insert again',
  { roots: { t: 'text' } }, (r) => {
    r.peer(1, 7);
    r.run({ op: 'text.insert', peer: 1, path: T, index: 0, text: 'hello world' });
    r.run({ op: 'text.delete', peer: 1, path: T, index: 2, length: 3 });
    r.run({ op: 'text.insert', peer: 1, path: T, index: 4, text: '--' });
    r.run({ op: 'text.delete', peer: 1, path: T, index: 1, length: 6 });
    r.run({ op: 'text.delete', peer: 1, path: T, index: 0, length: 1 });
    r.run({ op: 'text.insert', peer: 1, path: T, index: 0, text: 'again\r\n' });
  });

scenario('text_emoji_surrogates', 'UTF-16 clocks: emoji, ZWJ sequence, flag, CRLF; a delete and an insert that split surrogate pairs (U+FFFD)',
  { roots: { t: 'text' } }, (r) => {
    r.peer(1, 3);
    r.run({ op: 'text.insert', peer: 1, path: T, index: 0, text: 'a😀b👩‍👩‍👧c🇫🇷\r\nd' });
    r.run({ op: 'text.insert', peer: 1, path: T, index: 2, text: 'é' });
    r.run({ op: 'text.delete', peer: 1, path: T, index: 4, length: 1 });
    r.run({ op: 'text.insert', peer: 1, path: T, index: 7, text: '|' });
    r.run({ op: 'text.insert', peer: 1, path: T, index: 0, text: '日本語' });
  });

scenario('map_any_kinds', 'Y.Map set of every Any kind (tags 116-127) and every number encoding',
  { roots: { m: 'map' } }, (r) => {
    r.peer(1, 1);
    const values = {
      null: null, true: true, false: false,
      int0: 0, int5: 5, intneg: -1, int63: 63, int64: 64, intneg64: -64, int31max: 2147483647,
      int31min: -2147483647, int31over: 2147483648, int2p53: 9007199254740991, pow2_53: 9007199254740992,
      f32: 1.5, f32neg: -0.25, f64: 0.1, f64big: 1e300, f64small: -5e-324,
      str: 'hello', strEmpty: '', strUnicode: 'é😀👩‍👩‍👧\r\n', arr: [1, 'x', null, [true, 2.5]],
      arrEmpty: [], obj: { a: 1, b: { c: [] }, 'é': 'x' }, objEmpty: {},
      anyBinary: [{ $binary: b64(new Uint8Array([0, 1, 2, 255])) }], undef: { $undefined: true },
      bigint: { $bigint: '123' }, bigintMin: { $bigint: '-9223372036854775808' },
      bigintMax: { $bigint: '9223372036854775807' },
    };
    for (const k of Object.keys(values)) r.run({ op: 'map.set', peer: 1, path: M, key: k, value: values[k] });
  });

scenario('map_binary', 'ContentBinary map values (and an empty one), and ContentAny holding binary in a nested object',
  { roots: { m: 'map' } }, (r) => {
    r.peer(1, 11);
    r.run({ op: 'map.set', peer: 1, path: M, key: 'bin', value: { $binary: b64(new Uint8Array(200).map((_, i) => i)) } });
    r.run({ op: 'map.set', peer: 1, path: M, key: 'empty', value: { $binary: '' } });
    r.run({ op: 'map.set', peer: 1, path: M, key: 'inAny', value: { nested: { $binary: 'AAEC' } } });
  });

scenario('map_overwrite_delete', 'Y.Map overwrite (old value deleted) and delete of a key',
  { roots: { m: 'map' } }, (r) => {
    r.peer(1, 2);
    r.run({ op: 'map.set', peer: 1, path: M, key: 'a', value: 1 });
    r.run({ op: 'map.set', peer: 1, path: M, key: 'a', value: 'two' });
    r.run({ op: 'map.set', peer: 1, path: M, key: 'b', value: true });
    r.run({ op: 'map.delete', peer: 1, path: M, key: 'b' });
    r.run({ op: 'map.set', peer: 1, path: M, key: 'c', value: { $binary: 'AQI=' } });
    r.run({ op: 'map.set', peer: 1, path: M, key: 'c', value: { $type: 'text' } });
  });

scenario('nested_types', 'nested Y.Map / Y.Text / Y.Array in maps and arrays, edited through paths',
  { roots: { m: 'map', a: 'array' } }, (r) => {
    r.peer(1, 5);
    r.run({ op: 'map.set', peer: 1, path: M, key: 'sub', value: { $type: 'map' } });
    r.run({ op: 'map.set', peer: 1, path: ['m', 'sub'], key: 'note', value: { $type: 'text' } });
    r.run({ op: 'text.insert', peer: 1, path: ['m', 'sub', 'note'], index: 0, text: 'deep text' });
    r.run({ op: 'map.set', peer: 1, path: ['m', 'sub'], key: 'list', value: { $type: 'array' } });
    r.run({ op: 'array.insert', peer: 1, path: ['m', 'sub', 'list'], index: 0, values: [1, { $type: 'text' }, 'x'] });
    r.run({ op: 'text.insert', peer: 1, path: ['m', 'sub', 'list', 1], index: 0, text: 'in array' });
    r.run({ op: 'array.insert', peer: 1, path: A, index: 0, values: [{ $type: 'map' }, { $type: 'array' }] });
    r.run({ op: 'map.set', peer: 1, path: ['a', 0], key: 'k', value: [1, 2] });
    r.run({ op: 'array.insert', peer: 1, path: ['a', 1], index: 0, values: [{ $binary: 'AP8=' }, null] });
  });

scenario('text_format_embed', 'formatted inserts, format / unformat ranges, embeds with and without attributes',
  { roots: { t: 'text' }, delta: true }, (r) => {
    r.peer(1, 9);
    r.run({ op: 'text.insert', peer: 1, path: T, index: 0, text: 'plain bold italic' });
    r.run({ op: 'text.format', peer: 1, path: T, index: 6, length: 4, attrs: { bold: true } });
    r.run({ op: 'text.format', peer: 1, path: T, index: 11, length: 6, attrs: { italic: true, color: '#f00' } });
    r.run({ op: 'text.insert', peer: 1, path: T, index: 5, text: '!!', attrs: { bold: true } });
    r.run({ op: 'text.format', peer: 1, path: T, index: 7, length: 3, attrs: { bold: null } });
    r.run({ op: 'text.embed', peer: 1, path: T, index: 0, value: { image: 'a.png' } });
    r.run({ op: 'text.embed', peer: 1, path: T, index: 3, value: { formula: 'x^2' }, attrs: { bold: true } });
    r.run({ op: 'text.delete', peer: 1, path: T, index: 1, length: 2 });
  });

scenario('array_ops', 'Y.Array inserts of mixed values, deletes across items',
  { roots: { a: 'array' } }, (r) => {
    r.peer(1, 4);
    r.run({ op: 'array.insert', peer: 1, path: A, index: 0, values: [1, 2, 3, 'four', { five: 5 }] });
    r.run({ op: 'array.insert', peer: 1, path: A, index: 2, values: [{ $binary: 'AQ==' }, null, [true]] });
    r.run({ op: 'array.delete', peer: 1, path: A, index: 1, length: 3 });
    r.run({ op: 'array.insert', peer: 1, path: A, index: 5, values: [[{ $undefined: true }, { $bigint: '-7' }]] });
    r.run({ op: 'array.delete', peer: 1, path: A, index: 0, length: 1 });
  });

function gcScenario(gc) {
  return (r) => {
    r.peer(1, 12, gc);
    r.run({ op: 'text.insert', peer: 1, path: T, index: 0, text: 'deleted text that gc drops' });
    r.run({ op: 'text.delete', peer: 1, path: T, index: 0, length: 13 });
    r.run({ op: 'map.set', peer: 1, path: M, key: 'sub', value: { $type: 'map' } });
    r.run({ op: 'map.set', peer: 1, path: ['m', 'sub'], key: 'x', value: 'inner' });
    r.run({ op: 'map.set', peer: 1, path: M, key: 'sub', value: 'replaced' });
    r.run({ op: 'array.insert', peer: 1, path: A, index: 0, values: [1, 2, 3] });
    r.run({ op: 'array.delete', peer: 1, path: A, index: 0, length: 3 });
  };
}
scenario('gc_on', 'deletes with gc on: deleted content and replaced nested types become GC structs',
  { roots: { t: 'text', m: 'map', a: 'array' } }, gcScenario(true));
scenario('gc_off', 'the same deletes with gc off: deleted items keep their content',
  { roots: { t: 'text', m: 'map', a: 'array' } }, gcScenario(false));

scenario('two_clients', 'two peers, concurrent inserts at the same place and concurrent map sets, synced both ways (clients written in descending order)',
  { roots: { t: 'text', m: 'map' } }, (r) => {
    r.peer(1, 10);
    r.peer(2, 200);
    r.run({ op: 'text.insert', peer: 1, path: T, index: 0, text: 'base' });
    r.sync(1, 2);
    r.run({ op: 'text.insert', peer: 1, path: T, index: 2, text: 'ONE' });
    r.run({ op: 'text.insert', peer: 2, path: T, index: 2, text: 'two' });
    r.run({ op: 'map.set', peer: 1, path: M, key: 'k', value: 'from 1' });
    r.run({ op: 'map.set', peer: 2, path: M, key: 'k', value: 'from 200' });
    r.run({ op: 'text.delete', peer: 2, path: T, index: 0, length: 1 });
    r.sync(1, 2);
    r.sync(2, 1);
    r.run({ op: 'text.insert', peer: 1, path: T, index: 1, text: '+' });
  });

scenario('big_client_ids', 'client ids at 2^32-1 and 2^40 (varUint beyond 32 bits) and 0',
  { roots: { t: 'text' } }, (r) => {
    r.peer(1, 4294967295);
    r.peer(2, 1099511627776);
    r.peer(3, 0);
    r.run({ op: 'text.insert', peer: 1, path: T, index: 0, text: 'a' });
    r.sync(1, 2);
    r.run({ op: 'text.insert', peer: 2, path: T, index: 1, text: 'b' });
    r.sync(2, 3);
    r.run({ op: 'text.insert', peer: 3, path: T, index: 0, text: 'c' });
    r.sync(3, 1);
    r.sync(3, 2);
  });

// Scenarios the driver protocol cannot express: built with yjs directly (no op list). They test that
// content our API does not model is kept and re-encoded, never dropped.
const rawScenarios = [
  {
    name: 'xml_types',
    description: 'Y.XmlFragment with Y.XmlElement (attributes), Y.XmlText (formatted) and Y.XmlHook, beside a plain text root',
    roots: { t: 'text' },
    yjsRoots: { t: 'text', x: 'xml' },
    build() {
      const doc = new Y.Doc(); doc.clientID = 21;
      doc.getText('t').insert(0, 'beside xml');
      const frag = doc.getXmlFragment('x');
      const el = new Y.XmlElement('p');
      frag.insert(0, [el]);
      el.setAttribute('class', 'note');
      const tx = new Y.XmlText();
      el.insert(0, [tx]);
      tx.insert(0, 'xml text', { b: true });
      const hook = new Y.XmlHook('widget');
      frag.insert(1, [hook]);
      hook.set('k', 'v');
      return [doc];
    },
  },
  {
    name: 'subdoc',
    description: 'a Y.Doc (subdocument, ContentDoc) as a map value in root d, beside a plain map m',
    roots: { m: 'map' },
    yjsRoots: { m: 'map', d: 'map' },
    build() {
      const doc = new Y.Doc(); doc.clientID = 22;
      doc.getMap('m').set('plain', 1);
      doc.getMap('d').set('sub', new Y.Doc({ guid: 'sub-guid-1', meta: { x: 1 } }));
      return [doc];
    },
  },
  {
    name: 'merged_with_skip',
    description: 'Y.mergeUpdates of updates 1 and 3 of one client (2 missing): a Skip struct; the part after the gap stays pending',
    roots: { t: 'text' },
    yjsRoots: { t: 'text' },
    build() {
      const doc = new Y.Doc(); doc.clientID = 23;
      const ups = [];
      doc.on('update', (u) => ups.push(u));
      doc.getText('t').insert(0, 'one ');
      doc.getText('t').insert(4, 'two ');
      doc.getText('t').insert(8, 'three');
      return { update: Y.mergeUpdates([ups[0], ups[2]]), missing: ups[1], complete: 'one two three' };
    },
  },
];

function main() {
  fs.mkdirSync(outDir, { recursive: true });
  for (const f of fs.readdirSync(outDir)) fs.unlinkSync(path.join(outDir, f));
  const index = [];
  for (const s of scenarios) {
    const r = new Recorder(s.name, s.description);
    s.fn(r);
    const finalPeer = r.peers[0].peer;
    const doc = r.doc(finalPeer);
    const full = Y.encodeStateAsUpdate(doc);
    const expected = docJson(doc, s.opts.roots);
    const inferred = docJson(doc);
    const ops = {
      name: s.name, description: s.description, yjs: require('./lib/yjs-version'),
      roots: s.opts.roots, final_peer: finalPeer, peers: r.peers, steps: r.steps,
      final_update: b64(full), expected_inferred: inferred,
    };
    if (s.opts.delta) ops.expected_delta = r.core.handle({ op: 'delta', peer: finalPeer, path: T }).delta;
    fs.writeFileSync(path.join(outDir, `${s.name}.bin`), full);
    fs.writeFileSync(path.join(outDir, `${s.name}.json`), canonicalStringify(expected) + '\n');
    fs.writeFileSync(path.join(outDir, `${s.name}.ops.json`), JSON.stringify(ops, null, 1) + '\n');
    index.push({ name: s.name, roots: s.opts.roots, ops: true });
  }
  for (const s of rawScenarios) {
    const built = s.build();
    let update;
    if (Array.isArray(built)) update = Y.encodeStateAsUpdate(built[0]);
    else update = built.update;
    const doc = new Y.Doc();
    Y.applyUpdate(doc, update);
    fs.writeFileSync(path.join(outDir, `${s.name}.bin`), update);
    fs.writeFileSync(path.join(outDir, `${s.name}.json`), canonicalStringify(docJson(doc, s.roots, true)) + '\n');
    const entry = { name: s.name, roots: s.roots, yjs_roots: s.yjsRoots, ops: false, description: s.description,
      yjs_full: canonValue(yjsView(doc, s.yjsRoots)) };
    if (built.missing) {
      entry.missing_update = b64(built.missing);
      entry.complete_text = built.complete;
    }
    index.push(entry);
  }
  fs.writeFileSync(path.join(outDir, 'index.json'), JSON.stringify(index, null, 1) + '\n');
  process.stdout.write(`wrote ${index.length} scenarios to ${outDir}\n`);
}

// What yjs itself sees when it reads the document with the concrete root types (XML included).
function yjsView(doc, roots) {
  const o = {};
  for (const [name, kind] of Object.entries(roots)) {
    o[name] = kind === 'xml' ? doc.getXmlFragment(name) : kind === 'map' ? doc.getMap(name)
      : kind === 'text' ? doc.getText(name) : doc.getArray(name);
  }
  return o;
}

module.exports = { yjsView };
if (require.main === module) main();
