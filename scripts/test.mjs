#!/usr/bin/env node
// `npm test`: type-check, XSS scan of the JSX pages, import-cycle check, biome check (format and
// lint), then every test file with node's built-in runner (each file in its own process, two at
// a time on this 2-core machine, longest first).
// `npm test -- test/some.test.ts` runs only the files named (after the same checks, unless
// LATCHKEY_TEST_SKIP_CHECKS=1).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = (name) => join(root, 'node_modules', '.bin', name);

function run(label, cmd, args) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, env: process.env });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    console.error(`\n✖ ${label} failed (${secs}s)`);
    process.exit(r.status ?? 1);
  }
  console.log(`✔ ${label} (${secs}s)`);
}

function findTests(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (/\.test\.tsx?$/.test(name)) out.push(relative(root, p));
  }
  return out;
}

const named = process.argv.slice(2);
if (process.env.LATCHKEY_TEST_SKIP_CHECKS !== '1') {
  run('type-check (tsc)', bin('tsc'), ['--noEmit', '-p', 'tsconfig.json']);
  run('XSS scan of pages (xss-scan)', bin('xss-scan'), ['-p', 'tsconfig.json', '--simplified']);
  // Only the composition root imports src/deps.ts; type-only imports count as edges too.
  run('no import cycles (madge)', bin('madge'), ['--circular', '--no-spinner', '--extensions', 'ts,tsx', 'src']);
  run('format and lint (biome check)', bin('biome'), ['check', 'src', 'test', 'bench', 'scripts']);
}
// The longest files start first, so none of them is left running alone at the end: the four
// longest (40-50 s each, LATCHKEY_TEST_TIMES on 2026-12-04), the other Chromium files, then the
// rest in name order, filling the gaps.
const LONGEST = [
  'test/browser/pages17.test.ts',
  'test/browser/qr.test.ts',
  'test/recovery/reset.test.ts',
  'test/browser/languages.test.ts',
];
const weight = (f) => (LONGEST.includes(f) ? 0 : f.startsWith('test/browser/') ? 1 : 2);
const files = named.length
  ? named
  : [...findTests(join(root, 'src')), ...findTests(join(root, 'test'))].sort().sort((a, b) => weight(a) - weight(b));
console.log(`running ${files.length} test files`);
const r = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    // Two at a time on two cores: three were measured no faster (20 min against 19.5).
    `--test-concurrency=${process.env.LATCHKEY_TEST_CONCURRENCY ?? 2}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    ...(process.env.LATCHKEY_TEST_TIMES
      ? [
          `--test-reporter=${join(root, 'scripts', 'file-times.mjs')}`,
          `--test-reporter-destination=${process.env.LATCHKEY_TEST_TIMES}`,
        ]
      : []),
    ...files,
  ],
  { stdio: 'inherit', cwd: root, env: { ...process.env, NODE_NO_WARNINGS: '1' } },
);
process.exit(r.status ?? 1);
