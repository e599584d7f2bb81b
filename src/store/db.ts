import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  type CompiledQuery,
  Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  PostgresDialect,
  type PostgresPool,
  type PostgresPoolClient,
  SqliteDialect,
  sql,
} from 'kysely';
import pg from 'pg';
import { migrations } from './migrations/index.ts';
import { fromDependency, isOutage } from './outage.ts';
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
  /** The same database for migrations: on PostgreSQL a pool of its own without statement timeouts. */
  forMigrations(): Store;
  close(): Promise<void>;
}

/** Pool size and timeouts (AV-02), milliseconds; see the LATCHKEY_DB_* settings. 0: none. */
export interface StoreOptions {
  poolSize: number;
  connectTimeout: number;
  statementTimeout: number;
  idleTimeout: number;
  /** SQLite */
  busyTimeout: number;
}

/** The settings' defaults, for callers without a configuration (tests, tools). */
export const STORE_DEFAULTS: StoreOptions = {
  poolSize: 10,
  connectTimeout: 5000,
  statementTimeout: 10_000,
  idleTimeout: 30_000,
  busyTimeout: 5000,
};

/**
 * How much longer than the server's statement_timeout the client waits before it gives up on a
 * server that does not answer at all (stopped, partitioned): a live server cancels the statement
 * first and the connection stays usable.
 */
const CLIENT_GRACE_MS = 1000;

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

export function openStore(url: string, options: Partial<StoreOptions> = {}): Store {
  const o: StoreOptions = { ...STORE_DEFAULTS, ...options };
  if (isPostgresUrl(url)) {
    const pool = new pg.Pool({
      connectionString: url,
      max: o.poolSize,
      connectionTimeoutMillis: o.connectTimeout,
      idleTimeoutMillis: o.idleTimeout,
      statement_timeout: o.statementTimeout || undefined,
      query_timeout: o.statementTimeout ? o.statementTimeout + CLIENT_GRACE_MS : undefined,
      keepAlive: true,
    });
    // A dropped idle connection must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: discardingBroken(pool) }) });
    let statements = 0;
    const preparedRead = (query: CompiledQuery): PreparedRead => {
      // A named statement is parsed and planned once per pooled connection.
      const name = `latchkey_read_${++statements}`;
      return async (values) => {
        try {
          // pool.query itself discards the connection a query failed on.
          return (await pool.query({ name, text: query.sql, values: values as unknown[], rowMode: 'array' })).rows;
        } catch (err) {
          throw fromDependency(err, 'postgres');
        }
      };
    };
    return {
      db,
      engine: 'postgres',
      preparedRead,
      forMigrations: () => openStore(url, { ...o, poolSize: 2, statementTimeout: 0 }),
      close: () => db.destroy(),
    };
  }
  if (url !== ':memory:') mkdirSync(dirname(url), { recursive: true });
  const sqlite = new SQLite(url);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma(`busy_timeout = ${Math.round(o.busyTimeout)}`);
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
  reader?.pragma(`busy_timeout = ${Math.round(o.busyTimeout)}`);
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
  const store: Store = {
    db,
    engine: 'sqlite',
    preparedRead,
    // one connection writes; migrations take it like any other writer
    forMigrations: () => store,
    close: async () => {
      reader?.close();
      await db.destroy();
    },
  };
  return store;
}

/**
 * The pool as Kysely sees it, with one difference: a connection that failed because the server
 * went away or stopped answering (a timed-out query stays in flight on it) is destroyed when
 * released instead of going back to the pool to hang the next request, and meanwhile refuses
 * further queries at once (a transaction's ROLLBACK would otherwise wait out a second timeout).
 */
function discardingBroken(pool: pg.Pool): PostgresPool {
  const wrapped = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  return {
    async connect() {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw fromDependency(err, 'postgres');
      }
      let w = wrapped.get(client);
      if (!w) {
        let broken: Error | undefined;
        const query = async (text: string, values: readonly unknown[]) => {
          if (broken) throw broken;
          try {
            return await client.query(text, values as unknown[]);
          } catch (err) {
            if (isOutage(err)) broken = err as Error;
            throw fromDependency(err, 'postgres');
          }
        };
        // The pool listens for a connection's errors only while it is idle. Checked out between
        // statements (a transaction waiting on a hash), a server shutting down or a dropped
        // socket emitted 'error' with no listener: an uncaught exception that ended the process.
        client.on('error', (err) => {
          broken = fromDependency(err, 'postgres');
        });
        // pg-pool gives the client a new release function at each checkout: look it up each time.
        w = { query, release: () => client.release(broken) } as unknown as PostgresPoolClient;
        wrapped.set(client, w);
      }
      return w;
    },
    end: () => pool.end(),
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
  // A migration may rightly run longer than any request's statement timeout.
  const own = store.forMigrations();
  try {
    const migrator = new Migrator({ db: own.db, provider: new StaticProvider() });
    const { error, results } = await migrator.migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(String(error));
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  } finally {
    if (own !== store) await own.close();
  }
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
