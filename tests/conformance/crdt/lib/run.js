'use strict';
// Small helpers shared by the test runners: seeded PRNG, CLI runs, a pass/fail tally.
const { spawnSync } = require('child_process');
const path = require('path');

// xoshiro128** seeded through splitmix32: fast, good enough, identical on every machine.
function rng(seed) {
  let s = seed >>> 0;
  const sm = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = sm(); let b = sm(); let c = sm(); let d = sm();
  const next = () => {
    const r = Math.imul(Math.imul(b, 5) << 7 | Math.imul(b, 5) >>> 25, 9) >>> 0;
    const t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = d << 11 | d >>> 21;
    return r;
  };
  const r = {
    u32: next,
    float: () => next() / 4294967296,
    int: (n) => Math.floor((next() / 4294967296) * n), // [0, n)
    range: (lo, hi) => lo + Math.floor((next() / 4294967296) * (hi - lo + 1)), // [lo, hi]
    chance: (p) => next() / 4294967296 < p,
    pick: (arr) => arr[Math.floor((next() / 4294967296) * arr.length)],
    shuffle: (arr) => {
      for (let i = arr.length - 1; i > 0; i--) { const j = Math.floor((next() / 4294967296) * (i + 1)); [arr[i], arr[j]] = [arr[j], arr[i]]; }
      return arr;
    },
  };
  return r;
}

// `--ydoc ref` means the JS stand-in; returns [cmd, prefixArgs].
function ydocCommand(spec) {
  if (spec === 'ref') return [process.execPath, [path.join(__dirname, '..', 'ref-ydoc.js')]];
  return [spec, []];
}
function runYdoc(spec, args, opts = {}) {
  const [cmd, pre] = ydocCommand(spec);
  const r = spawnSync(cmd, [...pre, ...args], { encoding: opts.encoding || 'utf8', timeout: 60000, input: opts.input });
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`);
  return r;
}

class Tally {
  constructor(name) { this.name = name; this.passed = 0; this.failed = 0; this.failures = []; }
  ok(what) { this.passed++; if (process.env.VERBOSE) process.stdout.write(`ok   ${what}\n`); }
  fail(what, why) {
    this.failed++;
    this.failures.push(what);
    process.stdout.write(`FAIL ${what}: ${why}\n`);
  }
  check(what, cond, why) { if (cond) this.ok(what); else this.fail(what, typeof why === 'function' ? why() : why); }
  finish() {
    process.stdout.write(`${this.name}: ${this.passed} passed, ${this.failed} failed\n`);
    process.exit(this.failed === 0 ? 0 : 1);
  }
}

function argValue(argv, name, dflt) {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
}

module.exports = { rng, runYdoc, ydocCommand, Tally, argValue };
