import { randomUUID } from 'node:crypto';
import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';
import type { Database } from './schema.ts';

// Queries built and compiled once instead of at every call. Kysely's builder and compiler cost
// more CPU than SQLite takes to run a small statement: measured in-process on the second-factor
// step (bench/RESULTS.md, `mfa`), building and compiling its statements was about as much as
// running them. `insertRow` does the same for INSERTs.

/** A parameter slot: which argument goes there, or a constant the builder put there itself. */
type Slot = { arg: number } | { value: unknown };

interface Prepared {
  query: CompiledQuery;
  slots: Slot[];
}

/** Stand-ins for the arguments while the query is built: no input can guess this process's nonce. */
const PREFIX = `latchkey-argument-${randomUUID()}-`;
const marker = (i: number) => `${PREFIX}${i}`;
const isMarked = (text: string) => text.includes(PREFIX);

/**
 * Wraps a query builder `build(db, ...args)` whose arguments are used only as values (each one
 * becomes a parameter as it is, never part of the SQL text or of another value): the query is
 * built once per dialect with stand-ins, and each call runs the compiled query with its own
 * arguments. Works inside a transaction (`db` is then the transaction). A builder that turns out
 * to use an argument otherwise is run the usual way at every call, so the result is always what
 * `build(db, ...args).execute()` gives.
 */
export function compiledQuery<A extends unknown[], O>(
  build: (db: Kysely<Database>, ...args: A) => Compilable<O>,
): (db: Kysely<Database>, ...args: A) => Promise<QueryResult<O>> {
  // by the dialect's adapter (one per Kysely instance, shared by its transactions), so SQLite's
  // `?` and PostgreSQL's `$1` never mix; null: this builder cannot be reused
  const prepared = new WeakMap<object, Prepared | null>();
  return async (db, ...args) => {
    const adapter = db.getExecutor().adapter;
    let p = prepared.get(adapter);
    if (p === undefined) {
      p = prepare(db, build, args.length);
      prepared.set(adapter, p);
    }
    if (!p) return db.executeQuery(build(db, ...args).compile());
    const { query, slots } = p;
    return db.executeQuery<O>({
      ...query,
      parameters: slots.map((s) => ('arg' in s ? args[s.arg] : s.value)),
    } as CompiledQuery<O>);
  };
}

function prepare<A extends unknown[], O>(
  db: Kysely<Database>,
  build: (db: Kysely<Database>, ...args: A) => Compilable<O>,
  arity: number,
): Prepared | null {
  const markers = Array.from({ length: arity }, (_, i) => marker(i)) as A;
  let query: CompiledQuery;
  try {
    query = build(db, ...markers).compile();
  } catch {
    return null;
  }
  if (isMarked(query.sql)) return null;
  const slots: Slot[] = [];
  const used = new Set<number>();
  for (const value of query.parameters) {
    if (typeof value === 'string' && isMarked(value)) {
      const i = markers.indexOf(value);
      // part of a longer value (a LIKE pattern, say): not a plain parameter
      if (i < 0) return null;
      slots.push({ arg: i });
      used.add(i);
    } else slots.push({ value });
  }
  // an argument that steered the builder instead of becoming a value
  if (used.size !== arity) return null;
  return { query, slots };
}
