import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHIPPED_LOCALES } from './locales.ts';

// Message catalogs live beside the code that speaks them: `<folder>/messages/<locale>.json`, a
// flat object of ICU MessageFormat strings. Their keys are `<folder>.<key>` (the folder's own
// name: `signin.title` comes from src/flows/signin/messages/en.json), so a new method brings its
// words in its own folder and no list elsewhere names them. test/i18n/catalogs.test.ts checks
// that every language has every key, with the same arguments, and that every key is used.

export type Catalog = ReadonlyMap<string, string>;

const srcRoot = dirname(dirname(fileURLToPath(import.meta.url)));

/** Every `messages` folder under src, with the namespace it gives its keys. */
export function messageFolders(root = srcRoot): { namespace: string; dir: string }[] {
  const found: { namespace: string; dir: string }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === 'node_modules' || entry.name === 'public') continue;
      const path = join(dir, entry.name);
      if (entry.name === 'messages') found.push({ namespace: basename(dir), dir: path });
      else walk(path);
    }
  };
  walk(root);
  return found.sort((a, b) => a.namespace.localeCompare(b.namespace));
}

/**
 * The catalog files of one messages folder: `<locale>.json`, and `<part>.<locale>.json` for a
 * folder whose words are many (its keys share the folder's namespace). A language missing here
 * falls back to English at run time; the catalog test fails on it.
 */
export function catalogFiles(dir: string): { locale: string; part: string; file: string }[] {
  const files: { locale: string; part: string; file: string }[] = [];
  for (const file of readdirSync(dir)) {
    const m = /^(?:([a-z0-9-]+)\.)?([a-zA-Z-]+)\.json$/.exec(file);
    if (m && (SHIPPED_LOCALES as readonly string[]).includes(m[2] as string))
      files.push({ locale: m[2] as string, part: m[1] ?? '', file });
  }
  return files;
}

/** All catalogs, by language. Throws at start on a namespace used twice or a file that is not flat strings. */
export function loadCatalogs(root = srcRoot): Map<string, Catalog> {
  const catalogs = new Map<string, Map<string, string>>(SHIPPED_LOCALES.map((l) => [l, new Map()]));
  const seen = new Map<string, string>();
  for (const { namespace, dir } of messageFolders(root)) {
    const other = seen.get(namespace);
    if (other) throw new Error(`i18n: two message folders give the namespace "${namespace}": ${other}, ${dir}`);
    seen.set(namespace, dir);
    for (const { locale, file } of catalogFiles(dir)) {
      const messages = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;
      const into = catalogs.get(locale) as Map<string, string>;
      for (const [key, value] of Object.entries(messages)) {
        if (typeof value !== 'string') throw new Error(`i18n: ${dir}/${file}: "${key}" is not a string`);
        if (into.has(`${namespace}.${key}`)) throw new Error(`i18n: ${dir}/${file}: "${key}" is given twice`);
        into.set(`${namespace}.${key}`, value);
      }
    }
  }
  return catalogs;
}
