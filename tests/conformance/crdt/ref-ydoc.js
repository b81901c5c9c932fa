#!/usr/bin/env node
'use strict';
// A JS stand-in for the `ydoc` file commands (inspect, merge, diff, sv, driver) built on the real
// yjs. It lets the golden and CLI tests check themselves (`golden.js --ydoc ref`) and shows the
// reference output for each command. Not a product: the product is build/bin/ydoc.
const fs = require('fs');
const { Y, docJson, canonicalStringify } = require('./lib/values');

function usage(code) {
  process.stderr.write('usage: ref-ydoc.js inspect [--root NAME:KIND]... FILE... | merge FILE... -o OUT |\n' +
    '       diff --sv SV FILE... -o OUT | sv FILE... -o OUT | driver\n');
  process.exit(code);
}
const argv = process.argv.slice(2);
const cmd = argv.shift();
if (!cmd || cmd === '--help') usage(cmd ? 0 : 2);
if (cmd === 'driver') { require('./ref-driver.js'); return; }
const files = []; const roots = {}; let out = null; let sv = null;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--root') { const [n, k] = argv[++i].split(':'); roots[n] = k; } else if (a === '-o') out = argv[++i];
  else if (a === '--sv') sv = argv[++i];
  else files.push(a);
}
if (files.length === 0) usage(2);
const doc = new Y.Doc();
for (const f of files) {
  try {
    Y.applyUpdate(doc, new Uint8Array(fs.readFileSync(f)));
  } catch (e) {
    process.stderr.write(`ref-ydoc: ${f}: ${e.message}\n`);
    process.exit(1);
  }
}
if (cmd === 'inspect') {
  process.stdout.write(canonicalStringify(docJson(doc, Object.keys(roots).length ? roots : undefined)) + '\n');
} else if (cmd === 'merge' || cmd === 'diff' || cmd === 'sv') {
  if (!out) usage(2);
  let bytes;
  if (cmd === 'merge') bytes = Y.encodeStateAsUpdate(doc);
  else if (cmd === 'diff') bytes = Y.encodeStateAsUpdate(doc, new Uint8Array(fs.readFileSync(sv)));
  else bytes = Y.encodeStateVector(doc);
  fs.writeFileSync(out, bytes);
} else usage(2);
