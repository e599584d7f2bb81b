import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { type CompiledQuery, Kysely, type Migration, type MigrationProvider, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { migrations } from './migrations/index.ts';
import type { Database } from './schema.ts';

export type Engine = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  engine: Engine;
  /**
   * A read that runs on every request (the session lookup): prepared once on the engine itself,
   * rows answered as arrays of column values in select order. Row objects and Kysely's
   * per-query machinery were most of the cost of a session check in the bench. Reads only
   * committed data, never a transaction's work in progress. On SQLite rows are remembered until
   * a change (see openStore); callers must not modify them.
   */
  preparedRead(query: CompiledQuery): PreparedRead;
  close(): Promise<void>;
}

/** Rows a SQLite prepared read remembers between changes (see openStore), per statement. */
const REMEMBERED_MAX = 10_000;
/** How stale, at most, a remembered row may be with respect to another process's commit. */
const FRESHNESS_MS = 1;

/**
 * SQLite answers synchronously, and a session check that never leaves the current tick costs
 * no promises or microtask turns; PostgreSQL answers with a promise.
 */
export type PreparedRead = (parameters: readonly unknown[]) => unknown[][] | Promise<unknown[][]>;

// int8 comes back from pg as a string by default; our times are safe integers.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

export function openStore(url: string): Store {
  if (isPostgresUrl(url)) {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    // A dropped idle connection must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    let statements = 0;
    const preparedRead = (query: CompiledQuery): PreparedRead => {
      // A named statement is parsed and planned once per pooled connection.
      const name = `latchkey_read_${++statements}`;
      return async (values) =>
        (await pool.query({ name, text: query.sql, values: values as unknown[], rowMode: 'array' })).rows;
    };
    return { db, engine: 'postgres', preparedRead, close: () => db.destroy() };
  }
  if (url !== ':memory:') mkdirSync(dirname(url), { recursive: true });
  const sqlite = new SQLite(url);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  let writes = 0;
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({
      database: withStatementCache(sqlite, () => {
        writes++;
      }),
    }),
  });
  // Hot reads get a connection of their own: Kysely serialises its one connection, and a read
  // slipped onto it between a transaction's statements would see that transaction's
  // uncommitted work. In WAL mode this reader sees the latest commit and never blocks writers.
  // An in-memory database exists only on its own connection, so it reads through Kysely.
  const reader = url === ':memory:' ? undefined : new SQLite(url, { readonly: true });
  reader?.pragma('busy_timeout = 5000');
  // Rows a prepared read found are remembered until the database may have changed, so a session
  // check costs no query while nothing is written. A change is noticed
  //  - made by this process (its only writer is `sqlite`): at once, by the write counter, COMMIT
  //    included;
  //  - made by another process on the same file: by `PRAGMA data_version` on the reader, which
  //    moves with every commit of any other connection. It is asked at most once per
  //    FRESHNESS_MS: even that small pragma takes SQLite's file locks, and those system calls
  //    were the largest single cost left in the bench. A sign-out committed by another process
  //    therefore takes effect here at most FRESHNESS_MS later, the same as a request that had
  //    arrived that much earlier.
  // Only found rows are remembered, so random tokens cannot fill the memory.
  const dataVersion = reader?.prepare('PRAGMA data_version').pluck();
  const preparedRead = (query: CompiledQuery): PreparedRead => {
    if (!reader || !dataVersion)
      return async (parameters) =>
        (await db.executeQuery<Record<string, unknown>>({ ...query, parameters })).rows.map((r) => Object.values(r));
    const stmt = reader.prepare(query.sql).raw(true);
    const remembered = new Map<string, unknown[][]>();
    let seenWrites = -1;
    let version: unknown;
    let checkedAt = 0;
    return (parameters) => {
      const now = performance.now();
      if (seenWrites !== writes || now - checkedAt >= FRESHNESS_MS) {
        const v = dataVersion.get();
        if (seenWrites !== writes || v !== version) remembered.clear();
        seenWrites = writes;
        version = v;
        checkedAt = now;
      }
      const key = parameters.length === 1 ? String(parameters[0]) : JSON.stringify(parameters);
      let rows = remembered.get(key);
      if (!rows) {
        rows = stmt.all(...parameters) as unknown[][];
        if (rows.length) {
          if (remembered.size >= REMEMBERED_MAX) remembered.clear();
          remembered.set(key, rows);
        }
      }
      return rows;
    };
  };
  return {
    db,
    engine: 'sqlite',
    preparedRead,
    close: async () => {
      reader?.close();
      await db.destroy();
    },
  };
}

/**
 * Kysely's SQLite driver prepares every statement afresh; preparing cost more than running the
 * query on hot paths such as the session lookup (see the bench). Statements are reused by SQL
 * text (SQLite re-prepares them by itself after a schema change). Safe because better-sqlite3
 * runs each statement to completion synchronously; nothing here streams (`iterate`).
 * `onWrite` runs after every statement that may change the database, COMMIT included.
 */
function withStatementCache(sqlite: SQLite.Database, onWrite: () => void, max = 500) {
  type Cached = Pick<SQLite.Statement, 'reader' | 'all' | 'run' | 'iterate'>;
  const cache = new Map<string, Cached>();
  const wrap = (stmt: SQLite.Statement): Cached => {
    if (stmt.readonly && stmt.reader) return stmt;
    // Kysely runs writes without RETURNING, and BEGIN/COMMIT/ROLLBACK, through run(); INSERT …
    // RETURNING through all().
    return {
      reader: stmt.reader,
      all: (...params: unknown[]) => {
        try {
          return stmt.all(...params);
        } finally {
          onWrite();
        }
      },
      run: (...params: unknown[]) => {
        try {
          return stmt.run(...params);
        } finally {
          onWrite();
        }
      },
      iterate: (...params: unknown[]) => stmt.iterate(...params),
    } as Cached;
  };
  return {
    close: () => sqlite.close(),
    prepare(query: string) {
      let stmt = cache.get(query);
      if (!stmt) {
        stmt = wrap(sqlite.prepare(query));
        // Queries with variable-length lists make new texts; a full cache starts over.
        if (cache.size >= max) cache.clear();
        cache.set(query, stmt);
      }
      return stmt;
    },
  };
}

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}

/** Applies every pending migration; safe to run from several processes at once on PostgreSQL. */
export async function migrate(store: Store): Promise<string[]> {
  const migrator = new Migrator({ db: store.db, provider: new StaticProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** True when the database answers and no migration is pending. */
export async function isReady(store: Store): Promise<boolean> {
  try {
    await sql`select 1`.execute(store.db);
    const migrator = new Migrator({ db: store.db, provider: new StaticProvider() });
    const list = await migrator.getMigrations();
    return list.every((m) => m.executedAt !== undefined);
  } catch {
    return false;
  }
}
