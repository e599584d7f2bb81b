import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './server.ts';

// A PostgreSQL cluster of a test's own, for tests that stop, restart or freeze the database:
// the shared server on 5432 serves every other test file and must never be touched. initdb and
// postgres refuse to run as root, so as root they run as the `postgres` OS user.

const run = promisify(execFile);

/** The directory with initdb, pg_ctl and postgres: LATCHKEY_TEST_PG_BIN, else the newest installed. */
function binDir(): string | undefined {
  if (process.env.LATCHKEY_TEST_PG_BIN) return process.env.LATCHKEY_TEST_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

const asRoot = process.getuid?.() === 0;

/** uid and gid of the `postgres` OS user, read from /etc/passwd. */
function postgresUser(): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const f = line?.split(':');
  return f ? { uid: Number(f[2]), gid: Number(f[3]) } : undefined;
}

/** True when a private cluster can be started here (binaries present; as root, a postgres user). */
export function pgClusterAvailable(): boolean {
  const bin = binDir();
  if (!bin || !existsSync(join(bin, 'pg_ctl'))) return false;
  return !asRoot || (existsSync('/usr/sbin/runuser') && postgresUser() !== undefined);
}

export interface PgCluster {
  /** postgres://postgres@127.0.0.1:PORT/postgres (trust authentication) */
  url: string;
  port: number;
  /** `pg_ctl stop -m fast`: connections are terminated, new ones refused */
  stop(): Promise<void>;
  /** starts it again on the same port and data */
  start(): Promise<void>;
  /** SIGSTOP to the postmaster and every backend: connections stay open and nothing answers */
  freeze(): void;
  /** SIGCONT to the processes `freeze` stopped */
  thaw(): void;
  /** thaws, stops (immediately) and removes the cluster */
  destroy(): Promise<void>;
}

/** initdb into a temporary directory and start it on a free port on 127.0.0.1. */
export async function startPgCluster(): Promise<PgCluster> {
  const bin = binDir();
  if (!bin) throw new Error('no PostgreSQL binaries found (set LATCHKEY_TEST_PG_BIN)');
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-pg-'));
  const data = join(dir, 'data');
  const user = asRoot ? postgresUser() : undefined;
  if (asRoot && !user) throw new Error('no postgres OS user to run the test cluster as');
  if (user) chownSync(dir, user.uid, user.gid);
  const pg = (tool: string, args: string[]) =>
    asRoot ? run('/usr/sbin/runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : run(join(bin, tool), args);
  const port = await freePort();
  await pg('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--no-instructions']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const start = async () => {
    await pg('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '30', 'start']);
  };
  await start();

  let frozen: number[] = [];
  /** The postmaster (first line of postmaster.pid) and its children, from /proc. */
  const processes = (): number[] => {
    const pidFile = join(data, 'postmaster.pid');
    if (!existsSync(pidFile)) return [];
    const postmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    const children = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          // ppid is the 4th field, after the parenthesised command name
          const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
          return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
        } catch {
          return false;
        }
      })
      .map(Number);
    return [postmaster, ...children];
  };
  const signal = (pids: number[], sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {}
    }
  };
  const cluster: PgCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await pg('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    },
    start,
    freeze() {
      frozen = processes();
      signal(frozen, 'SIGSTOP');
    },
    thaw() {
      signal(frozen, 'SIGCONT');
      frozen = [];
    },
    async destroy() {
      cluster.thaw();
      await pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}
