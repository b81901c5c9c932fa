#!/usr/bin/env node
'use strict';
// Reference implementation of `ydoc driver` (the driver protocol, docs/crdt-conformance.md) on the
// real yjs: one JSON request per stdin line, one JSON reply per stdout line. The differential runner
// can use it in place of the C++ driver (--driver ref) to validate itself, and it is the oracle for
// exact reply semantics (e.g. which `update` a transaction emits).
const readline = require('readline');
const { DriverCore } = require('./lib/driver-core');

if (process.argv.includes('--help')) {
  process.stdout.write('usage: ref-driver.js   (JSON lines on stdin -> JSON lines on stdout)\n');
  process.exit(0);
}
// yjs/lib0 log warnings with console.*; stdout carries only replies.
console.log = console.warn = console.info = (...a) => process.stderr.write(a.join(' ') + '\n');
const core = new DriverCore();
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
const out = [];
let scheduled = false;
function flush() { scheduled = false; process.stdout.write(out.join('')); out.length = 0; }
rl.on('line', (line) => {
  if (line.trim() === '') return;
  let reply;
  try {
    reply = core.handle(JSON.parse(line));
  } catch (e) {
    reply = { ok: false, error: `bad JSON: ${e.message}` };
  }
  out.push(JSON.stringify(reply) + '\n');
  if (!scheduled) { scheduled = true; setImmediate(flush); }
});
