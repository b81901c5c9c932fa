'use strict';
// The JSON transport of Yjs values and the canonical JSON of a document, exactly as
// the driver protocol (docs/crdt-conformance.md, docs/crdt.md) defines them. Shared by the JS reference
// driver, the differential runner and the golden-file tools, so all of them agree by construction.
const Y = require('./yjs');

const b64 = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('base64');
const unb64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));

// JSON transport -> JS value ready for yjs (map.set / array.insert / Any).
function fromWire(v, topLevel = true) {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => fromWire(x, false));
  if (typeof v.$binary === 'string') return unb64(v.$binary);
  if (v.$undefined === true) return undefined;
  if (typeof v.$bigint === 'string') return BigInt(v.$bigint);
  if (typeof v.$type === 'string') {
    if (!topLevel) throw new Error('$type is only allowed as a direct map value or array item');
    switch (v.$type) {
      case 'map': return new Y.Map();
      case 'text': return new Y.Text();
      case 'array': return new Y.Array();
      default: throw new Error(`unknown $type ${v.$type}`);
    }
  }
  const out = {};
  for (const k of Object.keys(v)) out[k] = fromWire(v[k], false);
  return out;
}

// Canonical value of a JS/yjs value (plain JS data, ready for canonicalStringify).
function canonValue(v) {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return { $binary: b64(v) };
  if (v instanceof Y.XmlText) return { $xmltext: v.toString() };
  if (v instanceof Y.Text) return textString(v);
  if (v instanceof Y.XmlHook) return { $xmlhook: mapObject(v) };
  if (v instanceof Y.Map) return mapObject(v);
  if (v instanceof Y.Array) return arrayValues(v);
  if (v instanceof Y.XmlElement || v instanceof Y.XmlFragment) return { $xml: v.toString() };
  if (v instanceof Y.Doc) return { $doc: v.guid };
  if (Array.isArray(v)) return v.map(canonValue);
  if (typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v)) o[k] = canonValue(v[k]);
    return o;
  }
  return v;
}

// Works on a raw AbstractType too (roots that were never "get"-ed with a concrete kind).
function mapObject(t) {
  const o = {};
  for (const [k, item] of t._map) {
    if (item.deleted) continue;
    const c = item.content.getContent();
    o[k] = canonValue(c[c.length - 1]);
  }
  return o;
}
function textString(t) {
  let s = '';
  for (let n = t._start; n !== null; n = n.right) {
    if (!n.deleted && n.countable && n.content instanceof Y.ContentString) s += n.content.str;
  }
  return s;
}
function arrayValues(t) {
  const out = [];
  for (let n = t._start; n !== null; n = n.right) {
    if (!n.deleted && n.countable) for (const x of n.content.getContent()) out.push(canonValue(x));
  }
  return out;
}

// Canonical JSON of a whole doc: one member per root. roots: {name: "map"|"text"|"array"} fixes
// those roots' kinds (printed even when empty or absent); every other root's kind is inferred
// (visible keyed items -> map, visible string content -> text, other visible list content ->
// array) and an inferred root with nothing visible is dropped. only=true prints the listed roots only.
function docJson(doc, roots, only = false) {
  const out = {};
  for (const name of Object.keys(roots || {})) {
    const t = doc.share.get(name);
    const kind = roots[name];
    if (!['map', 'text', 'array'].includes(kind)) throw new Error(`unknown root kind ${kind}`);
    if (!t) out[name] = kind === 'map' ? {} : kind === 'text' ? '' : [];
    else out[name] = kind === 'map' ? mapObject(t) : kind === 'text' ? textString(t) : arrayValues(t);
  }
  if (only) return out;
  for (const [name, t] of doc.share) {
    if (roots && name in roots) continue;
    let keyed = false;
    for (const item of t._map.values()) if (!item.deleted) { keyed = true; break; }
    if (keyed) { out[name] = mapObject(t); continue; }
    let str = false; let any = false;
    for (let n = t._start; n !== null; n = n.right) {
      if (n.deleted || !n.countable) continue;
      any = true;
      if (n.content instanceof Y.ContentString) str = true;
    }
    if (str) out[name] = textString(t);
    else if (any) out[name] = arrayValues(t);
  }
  return out;
}

// Canonical JSON text: object keys sorted by their UTF-8 bytes, no whitespace.
function utf8Compare(a, b) { return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')); }
function canonicalStringify(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(canonicalStringify).join(',') + ']';
  const keys = Object.keys(v).sort(utf8Compare);
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalStringify(v[k])).join(',') + '}';
}

// Deep equality of parsed JSON values; returns null when equal, else a path + description.
function jsonDiff(a, b, path = '$') {
  if (a === b) return null;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') {
    return `${path}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array vs object`;
  if (Array.isArray(a)) {
    if (a.length !== b.length) return `${path}: length ${a.length} != ${b.length} (${JSON.stringify(a).slice(0, 200)} vs ${JSON.stringify(b).slice(0, 200)})`;
    for (let i = 0; i < a.length; i++) { const d = jsonDiff(a[i], b[i], `${path}[${i}]`); if (d) return d; }
    return null;
  }
  const ka = Object.keys(a).sort(); const kb = Object.keys(b).sort();
  if (ka.join('\u0000') !== kb.join('\u0000')) return `${path}: keys ${JSON.stringify(ka)} != ${JSON.stringify(kb)}`;
  for (const k of ka) { const d = jsonDiff(a[k], b[k], `${path}.${k}`); if (d) return d; }
  return null;
}

module.exports = { Y, b64, unb64, fromWire, canonValue, docJson, canonicalStringify, jsonDiff, utf8Compare };
