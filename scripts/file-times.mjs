import { relative } from 'node:path';

// A node:test reporter: each test file's time (the sum of its top-level tests, so without its
// process start-up and imports), longest first. `LATCHKEY_TEST_TIMES=<file> npm test` writes it
// beside the usual output; it shows which files the runner should start first.
export default async function* fileTimes(source) {
  const per = new Map();
  for await (const ev of source) {
    if ((ev.type === 'test:pass' || ev.type === 'test:fail') && ev.data.nesting === 0 && ev.data.file)
      per.set(ev.data.file, (per.get(ev.data.file) ?? 0) + (ev.data.details?.duration_ms ?? 0));
  }
  const rows = [...per].sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((a, [, ms]) => a + ms, 0);
  yield `${(total / 1000).toFixed(1)} s in ${rows.length} files\n`;
  for (const [file, ms] of rows) yield `${(ms / 1000).toFixed(1)} ${relative(process.cwd(), file)}\n`;
}
