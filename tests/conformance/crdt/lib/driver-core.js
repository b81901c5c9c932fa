'use strict';
// The `ydoc driver` protocol implemented with the real yjs: one handler object holding any number of
// Y.Doc peers. Used in-process by the differential runner (JS peers) and as a stand-alone process by
// ref-driver.js (the reference for exact reply semantics).
const { Y, b64, unb64, fromWire, docJson } = require('./values');

function resolve(doc, path, want) {
  if (!Array.isArray(path) || path.length === 0 || typeof path[0] !== 'string') {
    throw new Error('path must be a non-empty array starting with the root name');
  }
  let t;
  if (path.length === 1) {
    t = want === 'text' ? doc.getText(path[0]) : want === 'map' ? doc.getMap(path[0]) : doc.getArray(path[0]);
  } else {
    t = typeof path[1] === 'number' ? doc.getArray(path[0]) : doc.getMap(path[0]);
    for (let i = 1; i < path.length; i++) {
      const step = path[i];
      if (typeof step === 'number') {
        if (!(t instanceof Y.Array)) throw new Error(`path step ${i}: not an array`);
        if (!Number.isInteger(step) || step < 0 || step >= t.length) throw new Error(`path step ${i}: index ${step} out of range`);
        t = t.get(step);
      } else if (typeof step === 'string') {
        if (!(t instanceof Y.Map)) throw new Error(`path step ${i}: not a map`);
        t = t.get(step);
      } else {
        throw new Error(`path step ${i}: must be a string or a number`);
      }
    }
  }
  const ok = want === 'text' ? t instanceof Y.Text : want === 'map' ? t instanceof Y.Map : t instanceof Y.Array;
  if (!ok) throw new Error(`path ${JSON.stringify(path)} is not a ${want}`);
  return t;
}

function checkIndex(v, name) {
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer`);
  return v;
}

class DriverCore {
  constructor() {
    this.peers = new Map();
  }

  peer(req) {
    const d = this.peers.get(req.peer);
    if (!d) throw new Error(`no peer ${req.peer}`);
    return d;
  }

  // One mutating op = one transaction; reply.update is what doc.on('update') emitted, or null.
  mutate(req, fn) {
    const p = this.peer(req);
    p.last = null;
    p.doc.transact(() => fn(p.doc));
    return { ok: true, update: p.last ? b64(p.last) : null };
  }

  handle(req) {
    try {
      return this.dispatch(req);
    } catch (e) {
      return { ok: false, error: String(e && e.message ? e.message : e) };
    }
  }

  dispatch(req) {
    switch (req.op) {
      case 'new': {
        if (this.peers.has(req.peer)) throw new Error(`peer ${req.peer} exists`);
        const doc = new Y.Doc({ gc: req.gc !== false });
        doc.clientID = req.client;
        const p = { doc, last: null };
        doc.on('update', (u) => { p.last = u; });
        this.peers.set(req.peer, p);
        return { ok: true };
      }
      case 'free': {
        this.peer(req).doc.destroy();
        this.peers.delete(req.peer);
        return { ok: true };
      }
      case 'text.insert':
        return this.mutate(req, (doc) => {
          const t = resolve(doc, req.path, 'text');
          const i = checkIndex(req.index, 'index');
          if (i > t.length) throw new Error(`index ${i} > length ${t.length}`);
          t.insert(i, req.text, req.attrs ? fromWire(req.attrs, false) : undefined);
        });
      case 'text.delete':
        return this.mutate(req, (doc) => {
          const t = resolve(doc, req.path, 'text');
          const i = checkIndex(req.index, 'index'); const n = checkIndex(req.length, 'length');
          if (i + n > t.length) throw new Error(`range ${i}+${n} > length ${t.length}`);
          t.delete(i, n);
        });
      case 'text.format':
        return this.mutate(req, (doc) => {
          const t = resolve(doc, req.path, 'text');
          const i = checkIndex(req.index, 'index'); const n = checkIndex(req.length, 'length');
          if (i + n > t.length) throw new Error(`range ${i}+${n} > length ${t.length}`);
          t.format(i, n, fromWire(req.attrs || {}, false));
        });
      case 'text.embed':
        return this.mutate(req, (doc) => {
          const t = resolve(doc, req.path, 'text');
          const i = checkIndex(req.index, 'index');
          if (i > t.length) throw new Error(`index ${i} > length ${t.length}`);
          t.insertEmbed(i, fromWire(req.value, false), req.attrs ? fromWire(req.attrs, false) : undefined);
        });
      case 'map.set':
        return this.mutate(req, (doc) => {
          if (typeof req.key !== 'string') throw new Error('key must be a string');
          resolve(doc, req.path, 'map').set(req.key, fromWire(req.value));
        });
      case 'map.delete':
        return this.mutate(req, (doc) => {
          if (typeof req.key !== 'string') throw new Error('key must be a string');
          resolve(doc, req.path, 'map').delete(req.key);
        });
      case 'array.insert':
        return this.mutate(req, (doc) => {
          const a = resolve(doc, req.path, 'array');
          const i = checkIndex(req.index, 'index');
          if (i > a.length) throw new Error(`index ${i} > length ${a.length}`);
          if (!Array.isArray(req.values)) throw new Error('values must be an array');
          a.insert(i, req.values.map((v) => fromWire(v)));
        });
      case 'array.delete':
        return this.mutate(req, (doc) => {
          const a = resolve(doc, req.path, 'array');
          const i = checkIndex(req.index, 'index'); const n = checkIndex(req.length, 'length');
          if (i + n > a.length) throw new Error(`range ${i}+${n} > length ${a.length}`);
          a.delete(i, n);
        });
      case 'apply':
        Y.applyUpdate(this.peer(req).doc, unb64(req.update));
        return { ok: true };
      case 'encode': {
        const doc = this.peer(req).doc;
        return { ok: true, update: b64(req.sv ? Y.encodeStateAsUpdate(doc, unb64(req.sv)) : Y.encodeStateAsUpdate(doc)) };
      }
      case 'sv':
        return { ok: true, sv: b64(Y.encodeStateVector(this.peer(req).doc)) };
      case 'json':
        return { ok: true, json: docJson(this.peer(req).doc, req.roots) };
      case 'delta':
        return { ok: true, delta: deltaWire(resolve(this.peer(req).doc, req.path, 'text').toDelta()) };
      case 'merge':
        if (!Array.isArray(req.updates)) throw new Error('updates must be an array');
        return { ok: true, update: b64(Y.mergeUpdates(req.updates.map(unb64))) };
      case 'diff':
        return { ok: true, update: b64(Y.diffUpdate(unb64(req.update), unb64(req.sv))) };
      case 'decode': {
        const d = Y.decodeUpdate(unb64(req.update));
        return {
          ok: true,
          json: {
            structs: d.structs.map((s) => ({ kind: s.constructor.name, client: s.id.client, clock: s.id.clock, length: s.length })),
            ds: [...d.ds.clients].map(([client, items]) => ({ client, ranges: items.map((r) => [r.clock, r.len]) })),
          },
        };
      }
      default:
        throw new Error(`unknown op ${JSON.stringify(req.op)}`);
    }
  }
}

// toDelta() -> JSON transport (embeds that are Y types or binary become canonical values).
function deltaWire(delta) {
  const { canonValue } = require('./values');
  return delta.map((d) => {
    const o = { insert: typeof d.insert === 'string' ? d.insert : canonValue(d.insert) };
    if (d.attributes) o.attributes = canonValue(d.attributes);
    return o;
  });
}

module.exports = { DriverCore, resolve };
