import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needs } from './env.ts';
import { freshPostgres, postgresAvailable } from './pg.ts';

// The two store engines a suite runs the same queries on: one query text must behave alike on
// SQLite and PostgreSQL. `open` answers null when PostgreSQL is absent outside CI (in CI it fails).

export interface Engine {
  name: 'SQLite' | 'PostgreSQL';
  open(): Promise<{ url: string; cleanup(): Promise<void> } | null>;
}

export const engines: Engine[] = [
  {
    name: 'SQLite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'latchkey-engine-'));
      return { url: join(dir, 'store.db'), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      if (!needs(undefined, 'PostgreSQL', await postgresAvailable())) return null;
      const pg = await freshPostgres();
      return { url: pg.url, cleanup: () => pg.drop() };
    },
  },
];
