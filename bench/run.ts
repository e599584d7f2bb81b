// `npm run bench [-- name …]`: runs every scenario in bench/scenarios/*.ts (or only those named),
// one after the other, against services it starts itself on 127.0.0.1, and prints one JSON
// document (also saved under bench/results/). BENCH_SECONDS sets the length of each measured
// run (default 10); every run is bounded by it. BENCH_CPU_PROF=1 profiles the service child.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Scenario, ScenarioResult } from './lib/scenario.ts';

const dir = join(import.meta.dirname, 'scenarios');
const all: Scenario[] = [];
for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.ts'))
  .sort()) {
  const mod = (await import(pathToFileURL(join(dir, file)).href)) as { scenarios?: Scenario[] };
  for (const s of mod.scenarios ?? []) all.push(s);
}

const named = process.argv.slice(2).filter((a) => !a.startsWith('-'));
if (process.argv.includes('--list')) {
  for (const s of all) console.log(`${s.name.padEnd(20)} ${s.description}`);
  process.exit(0);
}
const unknown = named.filter((n) => !all.some((s) => s.name === n));
if (unknown.length) {
  console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${all.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const chosen = named.length ? all.filter((s) => named.includes(s.name)) : all;
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
if (!(seconds > 0 && seconds <= 120)) {
  console.error('BENCH_SECONDS must be between 1 and 120');
  process.exit(2);
}

const results: Record<string, ScenarioResult | { error: string }> = {};
for (const s of chosen) {
  console.error(`bench: ${s.name} (${seconds}s runs): ${s.description}`);
  try {
    results[s.name] = await s.run({ seconds });
  } catch (err) {
    results[s.name] = { error: err instanceof Error ? err.message : String(err) };
  }
}

const report = {
  at: new Date().toISOString(),
  node: process.version,
  cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  secondsPerRun: seconds,
  results,
};
const out = JSON.stringify(report, null, 2);
console.log(out);
const resultsDir = join(import.meta.dirname, 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, `${report.at.replace(/[:.]/g, '-')}.json`), `${out}\n`);
const failed = Object.values(results).some((r) => 'error' in r);
process.exit(failed ? 1 : 0);
