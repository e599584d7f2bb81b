import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { README, renderConfigTable, withConfigTable } from '../../scripts/config-table.ts';
import { SETTINGS } from '../../src/config/schema.ts';

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

test('pipes in a setting description do not break the table', () => {
  const table = renderConfigTable([{ env: 'LATCHKEY_X', kind: 'string', default: 'a|b', doc: 'one | two', group: 'general' }]);
  assert.match(table, /\| `LATCHKEY_X` \| `a\\\|b` \| string \| one \\\| two \|/);
});
