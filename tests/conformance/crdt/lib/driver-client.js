'use strict';
// Talks to one long-lived `ydoc driver` process (or ref-driver.js): requests are written at once
// (pipelined), replies are matched in order. A dead or silent driver fails every pending call with a
// message that says so, instead of hanging the test.
const { spawn } = require('child_process');
const readline = require('readline');
const path = require('path');

class DriverClient {
  constructor(cmd, args, { timeoutMs = 60000 } = {}) {
    this.desc = [cmd, ...args].join(' ');
    this.proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.pending = [];
    this.stderr = '';
    this.dead = null;
    this.timeoutMs = timeoutMs;
    this.proc.stderr.on('data', (d) => { this.stderr = (this.stderr + d).slice(-4000); });
    this.proc.stdin.on('error', () => {});
    readline.createInterface({ input: this.proc.stdout, crlfDelay: Infinity }).on('line', (line) => {
      const p = this.pending.shift();
      if (!p) return;
      clearTimeout(p.timer);
      let reply;
      try { reply = JSON.parse(line); } catch (e) {
        p.reject(new Error(`driver sent a line that is not JSON: ${line.slice(0, 200)}`));
        return;
      }
      p.resolve(reply);
    });
    this.proc.on('error', (e) => this.fail(`cannot start ${this.desc}: ${e.message}`));
    this.proc.on('exit', (code, sig) => this.fail(`driver ${this.desc} exited (code ${code}, signal ${sig})` +
      (this.stderr ? `; stderr: ${this.stderr.trim().slice(-1500)}` : '')));
  }

  fail(msg) {
    if (!this.dead) this.dead = msg;
    for (const p of this.pending.splice(0)) { clearTimeout(p.timer); p.reject(new Error(msg)); }
  }

  call(req) {
    if (this.dead) return Promise.reject(new Error(this.dead));
    return new Promise((resolve, reject) => {
      const p = { resolve, reject, req };
      p.timer = setTimeout(() => this.fail(`driver did not answer within ${this.timeoutMs} ms: ${JSON.stringify(req).slice(0, 300)}`), this.timeoutMs);
      this.pending.push(p);
      this.proc.stdin.write(JSON.stringify(req) + '\n');
    });
  }

  // Like call, but an {ok:false} reply is an error naming the request.
  async must(req) {
    const r = await this.call(req);
    if (!r || r.ok !== true) throw new Error(`driver error for ${JSON.stringify(req).slice(0, 300)}: ${r && r.error}`);
    return r;
  }

  // Ends the driver (EOF on stdin) and resolves to null if it exited 0, else to a description
  // (a sanitizer's leak report at exit is a failure too).
  close() {
    return new Promise((resolve) => {
      const done = () => {
        const { exitCode, signalCode } = this.proc;
        resolve(exitCode === 0 ? null : `driver ${this.desc} ended with code ${exitCode}, signal ${signalCode}` +
          (this.stderr ? `; stderr: ${this.stderr.trim().slice(-3000)}` : ''));
      };
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) { done(); return; }
      this.proc.once('exit', () => setImmediate(done));
      this.proc.stdin.end();
      setTimeout(() => { this.proc.kill('SIGKILL'); }, 20000).unref();
    });
  }
}

// `--driver ref` -> the JS reference driver; otherwise PATH to a ydoc binary (run as `ydoc driver`).
function openDriver(spec) {
  if (spec === 'ref') return new DriverClient(process.execPath, [path.join(__dirname, '..', 'ref-driver.js')]);
  return new DriverClient(spec, ['driver']);
}

module.exports = { DriverClient, openDriver };
