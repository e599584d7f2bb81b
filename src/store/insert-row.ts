import type { CompiledQuery, Insertable, Kysely } from 'kysely';
import type { Database } from './schema.ts';

// Compiled INSERTs, first by the dialect's adapter (one per Kysely instance, shared by its
// transactions, so SQLite's `?` and PostgreSQL's `$1` never mix), then by table and columns.
const compiled = new WeakMap<object, Map<string, CompiledQuery>>();

/**
 * Inserts one row: the same as `db.insertInto(table).values(row).execute()`, but the query is
 * built and compiled once per table and column list instead of at every call. For the rows
 * written on every sign-in (the session, the audit record) building them was a sixth of the
 * sign-in's own CPU, measured in-process with the hash taken out. Columns are the row's keys
 * with a value, in order, as Kysely takes them; works inside a transaction (`db` is then the
 * transaction).
 */
export async function insertRow<T extends keyof Database & string>(
  db: Kysely<Database>,
  table: T,
  row: Insertable<Database[T]>,
): Promise<void> {
  const values = row as Record<string, unknown>;
  const columns = Object.keys(values).filter((c) => values[c] !== undefined);
  // A value that is SQL of its own (an expression, or a function that makes one from Kysely's
  // expression builder) is no parameter: such a row is built the usual way, whatever shape was
  // compiled before.
  if (columns.some((c) => isSql(values[c]))) {
    await db
      .insertInto(table)
      .values(row as never)
      .execute();
    return;
  }
  const adapter = db.getExecutor().adapter;
  let byShape = compiled.get(adapter);
  if (!byShape) {
    byShape = new Map();
    compiled.set(adapter, byShape);
  }
  const shape = `${table}(${columns.join(',')})`;
  let query = byShape.get(shape);
  if (!query) {
    const fresh = db
      .insertInto(table)
      .values(row as never)
      .compile();
    // Reused only when each column became exactly its value as one parameter, in order: what
    // executeQuery below assumes of Kysely's compiler.
    if (
      fresh.parameters.length !== columns.length ||
      fresh.parameters.some((p, i) => p !== values[columns[i] as string])
    ) {
      await db.executeQuery(fresh);
      return;
    }
    query = fresh;
    byShape.set(shape, query);
  }
  await db.executeQuery({ ...query, parameters: columns.map((c) => values[c]) });
}

/** What Kysely's own value parser treats as SQL rather than a value (isExpressionOrFactory). */
function isSql(value: unknown): boolean {
  if (typeof value === 'function') return true;
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { toOperationNode?: unknown }).toOperationNode === 'function'
  );
}
