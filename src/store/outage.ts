import SQLite from 'better-sqlite3';
import pg from 'pg';

// "A dependency is unavailable" (AV-01): the database or Redis cannot be reached, does not answer
// in time, or is too busy. Such an error is the service's condition, not the request's fault, so
// it answers 503 with Retry-After instead of 500, and the request may simply be tried again.
// Errors are told apart by their codes and classes; only the driver errors that carry neither
// (pg's client-side timeouts and disconnects, ioredis's) are recognised by their exact message.

export type Dependency = 'postgres' | 'sqlite' | 'redis' | 'unknown';

/** Seconds a client is asked to wait before trying again after a 503. */
export const OUTAGE_RETRY_AFTER_S = 5;

const SOURCE = Symbol('latchkey.dependency');

/** Marks an error as coming from `dependency`, so the 503 metric can name it. Returns the error. */
export function fromDependency<T>(err: T, dependency: Exclude<Dependency, 'unknown'>): T {
  if (err && typeof err === 'object' && Object.isExtensible(err) && !(SOURCE in err))
    Object.defineProperty(err, SOURCE, { value: dependency });
  return err;
}

// Socket-level failures reaching any server.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs of a server that is going away, not taking connections, or cancelled a statement
 * for taking too long: class 08 (connection exception), 53300 too_many_connections, 57014
 * query_canceled (statement_timeout), 57P01-57P03 admin/crash shutdown and cannot_connect_now
 * (starting up), 25P03 idle_in_transaction_session_timeout.
 */
function pgStateIsOutage(code: string): boolean {
  return code.startsWith('08') || ['53300', '57014', '57P01', '57P02', '57P03', '25P03'].includes(code);
}

// pg's own client errors carry no code.
const PG_MESSAGES = new Set([
  'Query read timeout',
  'timeout expired',
  'timeout exceeded when trying to connect',
  'Connection terminated due to connection timeout',
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
]);

// ioredis's, likewise (MaxRetriesPerRequestError is a class it does not export).
const REDIS_MESSAGES = new Set([
  'Command timed out',
  'Connection is closed.',
  "Stream isn't writeable and enableOfflineQueue options is false",
]);

/** SQLite waited out its busy timeout on a lock, or the disk failed or filled. */
function sqliteIsOutage(code: string): boolean {
  return /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN)/.test(code);
}

function classify(err: unknown, depth: number): Dependency | undefined {
  if (!err || typeof err !== 'object' || depth > 3) return undefined;
  const e = err as Error & { code?: unknown; cause?: unknown; errors?: unknown[] };
  const tagged = (err as { [SOURCE]?: Dependency })[SOURCE];
  const code = typeof e.code === 'string' ? e.code : '';
  let found: Dependency | undefined;
  if (e instanceof SQLite.SqliteError) found = sqliteIsOutage(code) ? 'sqlite' : undefined;
  else if (e instanceof pg.DatabaseError) found = pgStateIsOutage(code) ? 'postgres' : undefined;
  else if (NETWORK_CODES.has(code)) found = 'unknown';
  else if (e.name === 'MaxRetriesPerRequestError' || REDIS_MESSAGES.has(e.message)) found = 'redis';
  else if (!code && PG_MESSAGES.has(e.message)) found = 'postgres';
  else if (Array.isArray(e.errors)) {
    // AggregateError: a connection tried on several addresses
    for (const inner of e.errors) found ??= classify(inner, depth + 1);
  }
  found ??= e.cause === undefined ? undefined : classify(e.cause, depth + 1);
  return found && (tagged ?? found);
}

/** Which dependency `err` says is unavailable, or undefined when it is some other error. */
export function outageOf(err: unknown): Dependency | undefined {
  return classify(err, 0);
}

/** True when `err` means a dependency is unavailable (answer 503 + Retry-After, AV-01). */
export function isOutage(err: unknown): boolean {
  return outageOf(err) !== undefined;
}
