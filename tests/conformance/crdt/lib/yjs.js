'use strict';
// Loads the pinned yjs (tests/node/node_modules) whatever the caller's working directory is.
const path = require('path');
const { createRequire } = require('module');

const nodeDir = path.resolve(__dirname, '../../../node');
const req = createRequire(path.join(nodeDir, 'package.json'));
let Y;
try {
  Y = req('yjs');
} catch (e) {
  process.stderr.write(`cannot load yjs from ${nodeDir}/node_modules: run "npm ci --no-audit --no-fund" there (${e.message})\n`);
  process.exit(2);
}
module.exports = Y;
