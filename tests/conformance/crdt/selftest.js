#!/usr/bin/env node
'use strict';
// Runs the golden and differential runners against the JS reference implementations
// (ref-ydoc.js, ref-driver.js): if these fail, the harness is wrong, not ydoc.
const { spawnSync } = require('child_process');
const path = require('path');

let failed = 0;
// Small on purpose (ref-ydoc.js is a node start per command): it proves the harness, not the product.
for (const args of [['golden.js', '--ydoc', 'ref', '--only', 'two_clients'], ['golden.js', '--ydoc', 'ref', '--only', 'merged_with_skip'],
  ['golden.js', '--ydoc', 'ref', '--only', 'xml_types'], ['diff.js', '--driver', 'ref', '--sessions', '40']]) {
  const r = spawnSync(process.execPath, [path.join(__dirname, args[0]), ...args.slice(1)], { encoding: 'utf8' });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.status !== 0) failed++;
}
process.stdout.write(`selftest: ${4 - failed} passed, ${failed} failed\n`);
process.exit(failed ? 1 : 0);
