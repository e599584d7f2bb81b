// docs/security.md lists every requirement with the tests that prove it. These checks keep it
// from drifting: the requirement lines are written by hand, the "proved by" table is generated
// from the test titles by `npm run docs:security`.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  END,
  idsIn,
  parseRequirements,
  ROOT,
  regenerate,
  renderTestTable,
  SECURITY_DOC,
  START,
  scanTests,
  titlesIn,
  withTestTable,
} from '../../scripts/security-doc.ts';

const doc = readFileSync(SECURITY_DOC, 'utf8');
const requirements = parseRequirements(doc);
const byId = scanTests();
const where = (id: string) => [...(byId.get(id) ?? [])].join(', ');

test('every requirement ID a test title names is in docs/security.md', () => {
  const documented = new Set(requirements.map((r) => r.id));
  const missing = [...byId.keys()].filter((id) => !documented.has(id)).sort();
  assert.deepEqual(
    missing.map((id) => `${id} (${where(id)})`),
    [],
    'add a requirement line for each to docs/security.md, then run `npm run docs:security`',
  );
});

test('every requirement not marked pending is proved by at least one test', () => {
  const untested = requirements.filter((r) => !r.pending && !byId.has(r.id)).map((r) => r.id);
  assert.deepEqual(untested, [], 'name the ID in a test title, or mark the line `_(pending: issue N, why)_`');
});

test('a requirement marked pending has no test yet (once one exists, remove the mark)', () => {
  const proved = requirements.filter((r) => r.pending && byId.has(r.id)).map((r) => `${r.id} (${where(r.id)})`);
  assert.deepEqual(proved, [], 'remove `_(pending: …)_` from these lines, then run `npm run docs:security`');
});

test('each requirement is listed once', () => {
  const seen = new Set<string>();
  const twice = requirements.filter((r) => seen.has(r.id) || !seen.add(r.id)).map((r) => r.id);
  assert.deepEqual(twice, []);
  assert.ok(requirements.length > 0, 'docs/security.md has requirement lines');
});

test('the "proved by" table is generated from the current test titles (run `npm run docs:security` when this fails)', () => {
  // A failure names the rows that differ, not the whole file.
  const table = (text: string) => text.slice(text.indexOf(START), text.indexOf(END)).split('\n');
  const [now, wanted] = [table(doc), table(regenerate(doc))];
  const stale = { remove: now.filter((l) => !wanted.includes(l)), add: wanted.filter((l) => !now.includes(l)) };
  const message = 'docs/security.md is stale: run `npm run docs:security`';
  assert.deepEqual(stale, { remove: [], add: [] }, message);
  assert.ok(regenerate(doc) === doc, message);
});

// The reference list lives beside the repository (`../shared/SECURITY.md`); where it is there,
// a requirement it gains must be written down here too.
test('every ID of the reference SECURITY.md is in docs/security.md', (t) => {
  const reference = join(ROOT, '..', 'shared', 'SECURITY.md');
  if (!existsSync(reference)) {
    t.skip('../shared/SECURITY.md is not beside this checkout');
    return;
  }
  const specIds = readFileSync(reference, 'utf8')
    .split(/\r?\n/)
    .flatMap((line) => (/^- [A-Z]/.test(line) ? idsIn(line).slice(0, 1) : []));
  const documented = new Set(requirements.map((r) => r.id));
  assert.deepEqual(
    specIds.filter((id) => !documented.has(id)),
    [],
  );
});

test('titles are read from the syntax tree: comments, assertions and other calls do not count', () => {
  const source = [
    "import { describe, it, test } from 'node:test';",
    "describe('REC-02 and OTP-03 in a suite', () => {",
    "  it('PWD-01 inside it', () => {});",
    '});',
    "test.skip('SES-04 skipped still names it', () => {});",
    `test(\`EXT-02 a template \${what} title\`, () => {});`,
    "test('a title without an ID, UTF-16 and SHA-256 are not IDs', async (t) => {",
    "  await t.test('LOG-02 a subtest', () => {});",
    "  assert.match(body, /BF-01/, 'WEB-04 in an assertion');",
    '});',
    "// test('MFA-01 commented out', () => {});",
    "check('QR-01 another function', () => {});",
  ].join('\n');
  const titles = titlesIn(source);
  assert.deepEqual(titles.flatMap(idsIn).sort(), ['EXT-02', 'LOG-02', 'OTP-03', 'PWD-01', 'REC-02', 'SES-04']);
});

test('requirement lines, pending marks and the generated table', () => {
  const sample = [
    '- **AB-01** waits. _(pending: issue 9, later)_',
    '- **BF-01** proved.',
    '- **QR-01** not yet. _(pending: issue 19, QR sign-in)_',
    'Some prose naming BF-02, which is not a requirement line.',
    START,
    '- **OLD-01** inside the generated part, ignored',
    END,
  ].join('\n');
  const reqs = parseRequirements(sample);
  assert.deepEqual(reqs, [
    { id: 'AB-01', text: 'waits.', pending: 'issue 9, later' },
    { id: 'BF-01', text: 'proved.', pending: undefined },
    { id: 'QR-01', text: 'not yet.', pending: 'issue 19, QR sign-in' },
  ]);
  const table = renderTestTable(reqs, new Map([['BF-01', new Set(['test/b.test.ts', 'test/a.test.ts'])]]));
  assert.match(table, /^\| BF-01 \| \[`test\/a\.test\.ts`\]\(\.\.\/test\/a\.test\.ts\), \[`test\/b\.test\.ts`\]/m);
  assert.match(table, /^\| QR-01 \| pending: issue 19, QR sign-in \|$/m);
  assert.match(table, /^3 requirements: 1 proved by tests in 2 files, 2 pending\.$/m);
  assert.throws(() => withTestTable('no markers', table), /needs the markers/);
});
