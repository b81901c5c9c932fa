'use strict';
// Applies edit lists to Y.Text documents with the real yjs and checks the result.
//   node text_edits.js CASES.json
// CASES.json: [{"name", "start", "start_units", "edits": [{"index", "delete", "insert"}], "expect"}]
// Each case: a Y.Text holding `start` (its length must be `start_units`), the
// edits applied in order in one transaction, toString() must be `expect`.
// Last line: "N passed, N failed"; exit status 1 when any failed.
const fs = require('fs');
const Y = require('../crdt/lib/yjs');

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
let passed = 0;
let failed = 0;
for (const c of cases) {
  const doc = new Y.Doc();
  const text = doc.getText('t');
  text.insert(0, c.start);
  const problems = [];
  if (text.length !== c.start_units) {
    problems.push(`length ${text.length}, C++ counted ${c.start_units}`);
  }
  doc.transact(() => {
    for (const e of c.edits) {
      if (e.delete > 0) text.delete(e.index, e.delete);
      if (e.insert.length > 0) text.insert(e.index, e.insert);
    }
  });
  const got = text.toString();
  if (got !== c.expect) problems.push(`got ${JSON.stringify(got)}, want ${JSON.stringify(c.expect)}`);
  if (problems.length) {
    failed++;
    process.stdout.write(`FAIL ${c.name}: ${problems.join('; ')}\n  start ${JSON.stringify(c.start)}\n` +
                         `  edits ${JSON.stringify(c.edits)}\n`);
  } else {
    passed++;
  }
}
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failed ? 1 : 0);
