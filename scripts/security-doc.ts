// `npm run docs:security`: rewrites the "proved by" table of docs/security.md (between the
// `<!-- security-tests:start -->` and `<!-- security-tests:end -->` markers) from the titles of
// the test files, so the doc names exactly the tests that exist. The requirement lines above the
// table are written by hand; a line ending in `_(pending: …)_` is a requirement no test proves yet.
// `npm run docs:security -- --check` only says whether the table is current (exit 1 if stale).
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

export const START = '<!-- security-tests:start -->';
export const END = '<!-- security-tests:end -->';
export const ROOT = join(import.meta.dirname, '..');
export const SECURITY_DOC = join(ROOT, 'docs', 'security.md');

/** The requirement families of SECURITY.md; other `ABC-12` shapes in a title (e.g. `UTF-16`) are not IDs. */
export const PREFIXES = [
  'PWD',
  'BF',
  'ENUM',
  'ID',
  'REC',
  'OTP',
  'MFA',
  'SES',
  'WEB',
  'AV',
  'EXT',
  'QR',
  'ADM',
  'OP',
  'LOG',
];
const ID_IN_TEXT = new RegExp(`\\b(?:${PREFIXES.join('|')})-\\d{2}\\b`, 'g');

export const idsIn = (text: string): string[] => [...new Set(text.match(ID_IN_TEXT) ?? [])];

/** Test files as `npm test` finds them: *.test.ts(x) under src/ and test/, paths relative to the root. */
export function findTestFiles(root = ROOT): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.test\.tsx?$/.test(name)) out.push(relative(root, p).split(sep).join('/'));
    }
  };
  for (const top of ['src', 'test']) walk(join(root, top));
  return out.sort();
}

const TITLE_CALLEES = new Set(['test', 'it', 'describe']);
const MODIFIERS = new Set(['skip', 'only', 'todo']);

/** `test(…)`, `it(…)`, `describe(…)`, their `.skip/.only/.todo`, and subtests `t.test(…)`. */
function isTitleCall(callee: ts.Expression): boolean {
  if (ts.isIdentifier(callee)) return TITLE_CALLEES.has(callee.text);
  if (!ts.isPropertyAccessExpression(callee)) return false;
  const { expression, name } = callee;
  if (ts.isIdentifier(expression) && TITLE_CALLEES.has(expression.text)) return MODIFIERS.has(name.text);
  return name.text === 'test' && ts.isIdentifier(expression);
}

/**
 * The titles of the tests and suites in one source file, read from its syntax tree, so commented-out
 * tests and IDs in comments or assertions do not count. In a template title the fixed parts count.
 */
export function titlesIn(source: string, fileName = 'x.test.ts'): string[] {
  const kind = fileName.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, false, kind);
  const titles: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node) && isTitleCall(node.expression)) {
      const first = node.arguments[0];
      if (first && (ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first))) titles.push(first.text);
      else if (first && ts.isTemplateExpression(first)) {
        titles.push([first.head.text, ...first.templateSpans.map((s) => s.literal.text)].join(' … '));
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return titles;
}

/** Requirement ID → the test files whose titles name it. */
export function scanTests(root = ROOT, files = findTestFiles(root)): Map<string, Set<string>> {
  const byId = new Map<string, Set<string>>();
  for (const f of files) {
    for (const title of titlesIn(readFileSync(join(root, f), 'utf8'), f)) {
      for (const id of idsIn(title)) {
        const set = byId.get(id) ?? new Set<string>();
        set.add(f);
        byId.set(id, set);
      }
    }
  }
  return byId;
}

export interface Requirement {
  id: string;
  text: string;
  /** Why no test proves it yet (which issue delivers it); undefined when tests must exist. */
  pending?: string;
}

const REQUIREMENT_LINE = /^- \*\*([A-Z]{2,4}-\d{2})\*\* (.+)$/;
const PENDING = /\s*_\(pending: ([^)]+)\)_\s*$/;

/** The hand-written requirement lines (`- **PWD-01** text`), outside the generated table. */
export function parseRequirements(doc: string): Requirement[] {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  const handWritten = a >= 0 && b > a ? doc.slice(0, a) + doc.slice(b + END.length) : doc;
  const out: Requirement[] = [];
  for (const line of handWritten.split(/\r?\n/)) {
    const m = REQUIREMENT_LINE.exec(line);
    if (!m) continue;
    const pending = PENDING.exec(m[2]);
    out.push({ id: m[1], text: m[2].replace(PENDING, ''), pending: pending?.[1].trim() });
  }
  return out;
}

const link = (file: string) => `[\`${file}\`](../${file})`;

/** The generated Markdown: one row per requirement, in the doc's order. */
export function renderTestTable(requirements: readonly Requirement[], byId: Map<string, Set<string>>): string {
  const proved = requirements.filter((r) => !r.pending && byId.has(r.id)).length;
  const pending = requirements.filter((r) => r.pending).length;
  const files = new Set(requirements.flatMap((r) => [...(byId.get(r.id) ?? [])]));
  const out = [
    '<!-- generated by `npm run docs:security` from the test titles; edit the requirement lines above, not this table -->',
    '',
    `${requirements.length} requirements: ${proved} proved by tests in ${files.size} files, ${pending} pending.`,
    '',
    '| ID | proved by |',
    '| --- | --- |',
  ];
  for (const r of requirements) {
    const tests = [...(byId.get(r.id) ?? [])].sort();
    const cell = tests.length ? tests.map(link).join(', ') : r.pending ? `pending: ${r.pending}` : '**no test**';
    out.push(`| ${r.id} | ${cell.replace(/\|/g, '\\|')} |`);
  }
  return out.join('\n');
}

/** The doc with the region between the markers replaced. */
export function withTestTable(doc: string, table: string): string {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`docs/security.md needs the markers ${START} and ${END}`);
  return `${doc.slice(0, a + START.length)}\n${table}\n${doc.slice(b)}`;
}

/** The doc as `npm run docs:security` would write it. */
export function regenerate(doc: string, root = ROOT): string {
  return withTestTable(doc, renderTestTable(parseRequirements(doc), scanTests(root)));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const current = readFileSync(SECURITY_DOC, 'utf8');
  const next = regenerate(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      console.error('docs/security.md is stale: run `npm run docs:security`');
      process.exit(1);
    }
    console.log('docs/security.md is current');
  } else if (next === current) {
    console.log('docs/security.md already current');
  } else {
    writeFileSync(SECURITY_DOC, next);
    console.log(`docs/security.md rewritten (${parseRequirements(next).length} requirements)`);
  }
}
