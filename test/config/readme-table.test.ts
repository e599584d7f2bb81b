import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { README, renderConfigTable, withConfigTable } from '../../scripts/config-table.ts';
import { FAMILIES, SETTINGS } from '../../src/config/schema.ts';

test('the README configuration table is generated from the current schema (run `npm run docs:config` when this fails)', () => {
  const readme = readFileSync(README, 'utf8');
  assert.equal(withConfigTable(readme), readme, 'README.md is stale: run `npm run docs:config`');
});

test('every setting in the schema appears in the generated table, once', () => {
  const table = renderConfigTable();
  for (const s of SETTINGS) {
    assert.equal(table.split(`| \`${s.env}\` |`).length - 1, 1, s.env);
  }
});

test('every member of a setting family appears as a pattern row, e.g. LATCHKEY_OIDC_<NAME>_ISSUER', () => {
  const table = renderConfigTable();
  for (const f of FAMILIES)
    for (const p of f.parts) assert.equal(table.split(`| \`${f.prefix}<NAME>_${p.part}\` |`).length - 1, 1, p.part);
  assert.match(table, /\| `LATCHKEY_OIDC_<NAME>_SCOPES` \| `openid email profile` \| string \|/);
});

test('pipes in a setting description do not break the table', () => {
  const table = renderConfigTable([
    { env: 'LATCHKEY_X', kind: 'string', default: 'a|b', doc: 'one | two', group: 'general' },
  ]);
  assert.match(table, /\| `LATCHKEY_X` \| `a\\\|b` \| string \| one \\\| two \|/);
});
