import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { type MessageFormatElement, parse, TYPE } from '@formatjs/icu-messageformat-parser';
import { catalogFiles, loadCatalogs, messageFolders } from '../../src/i18n/catalog.ts';
import { SHIPPED_LOCALES } from '../../src/i18n/locales.ts';

// Issue 17: every language has every key, with the same arguments and tags; every key is used
// somewhere in src; every key src asks for exists; nothing left in English by mistake.

const root = new URL('../..', import.meta.url).pathname;
const src = join(root, 'src');

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (/\.(ts|tsx|js)$/.test(name)) out.push(p);
  }
  return out;
}

/** Argument and tag names of a message, e.g. {count, plural} and <link>. */
function argumentsOf(elements: MessageFormatElement[], into = new Set<string>()): Set<string> {
  for (const e of elements) {
    if (e.type === TYPE.argument || e.type === TYPE.number || e.type === TYPE.date || e.type === TYPE.time)
      into.add(e.value);
    if (e.type === TYPE.plural || e.type === TYPE.select) {
      into.add(e.value);
      for (const o of Object.values(e.options)) argumentsOf(o.value, into);
    }
    if (e.type === TYPE.tag) {
      into.add(`<${e.value}>`);
      argumentsOf(e.children, into);
    }
  }
  return into;
}

const folders = messageFolders();

test('i18n: every catalog part has every English key in every shipped language, and no other', () => {
  const problems: string[] = [];
  for (const { dir } of folders) {
    const files = catalogFiles(dir);
    const parts = new Set(files.map((f) => f.part));
    for (const part of parts) {
      const read = (locale: string) => {
        const f = files.find((x) => x.part === part && x.locale === locale);
        return f ? (JSON.parse(readFileSync(join(dir, f.file), 'utf8')) as Record<string, string>) : undefined;
      };
      const en = read('en');
      const where = `${relative(root, dir)}/${part ? `${part}.` : ''}`;
      if (!en) {
        problems.push(`${where}en.json is missing`);
        continue;
      }
      for (const locale of SHIPPED_LOCALES) {
        const other = read(locale);
        if (!other) {
          problems.push(`${where}${locale}.json is missing`);
          continue;
        }
        for (const k of Object.keys(en)) if (!(k in other)) problems.push(`${where}${locale}.json lacks "${k}"`);
        for (const k of Object.keys(other))
          if (!(k in en)) problems.push(`${where}${locale}.json has "${k}", English has not`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('i18n: every message parses as ICU MessageFormat with the same arguments and tags as English', () => {
  const catalogs = loadCatalogs();
  const en = catalogs.get('en') as ReadonlyMap<string, string>;
  const problems: string[] = [];
  for (const locale of SHIPPED_LOCALES) {
    for (const [key, message] of catalogs.get(locale) ?? []) {
      let args: Set<string>;
      try {
        args = argumentsOf(parse(message));
      } catch (err) {
        problems.push(`${locale} ${key}: ${(err as Error).message}`);
        continue;
      }
      const english = en.get(key);
      if (english === undefined) continue;
      const want = [...argumentsOf(parse(english))].sort().join(',');
      const got = [...args].sort().join(',');
      if (want !== got) problems.push(`${locale} ${key}: arguments {${got}} but English has {${want}}`);
      // Markup comes from tag arguments only: a bare & or a stray < would reach the page raw.
      if (/&(?![a-z]+;)/.test(message.replace(/<\/?[a-z_]+>/g, '')))
        problems.push(`${locale} ${key}: a raw "&" (write "and" or use a tag)`);
    }
  }
  assert.deepEqual(problems, []);
});

test('i18n: every key is used in src, and every key src names exists', () => {
  const catalogs = loadCatalogs();
  const en = catalogs.get('en') as ReadonlyMap<string, string>;
  const code = sources(src)
    .filter((f) => !f.includes(`${join('src', 'i18n')}`))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const used = new Set<string>();
  for (const m of code.matchAll(/['"`]([a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)+)['"`]/gi)) used.add(m[1] as string);
  const unused = [...en.keys()].filter((k) => !used.has(k));
  assert.deepEqual(unused, [], 'keys no code names (remove them, or name them as a literal where used)');
  const named = new Set<string>();
  for (const m of code.matchAll(/\bth?\(\s*['"]([^'"]+)['"]/g)) named.add(m[1] as string);
  const missing = [...named].filter((k) => !en.has(k));
  assert.deepEqual(missing, [], 'keys src asks t()/th() for that no English catalog has');
});

test('i18n: no message of another language is left in English', () => {
  const catalogs = loadCatalogs();
  const en = catalogs.get('en') as ReadonlyMap<string, string>;
  const problems: string[] = [];
  for (const locale of SHIPPED_LOCALES.filter((l) => l !== 'en'))
    for (const [key, message] of catalogs.get(locale) ?? []) {
      const english = en.get(key) ?? '';
      // Names, codes and one-word labels ("Passkey", "OK") may be the same; a sentence may not.
      const words = english.replace(/\{[^}]*\}|<[^>]*>/g, ' ').match(/[A-Za-z]{2,}/g) ?? [];
      if (message === english && words.length >= 3) problems.push(`${locale} ${key}: "${message}"`);
    }
  assert.deepEqual(problems, []);
});
