// The yardsticks, started the same way as the service (`node --import tsx`), on the same Fastify:
// - GET /bare, for GET /api/v1/sessions/current: a JSON body of the same shape, no database work;
// - POST /bare-verify, for POST /api/v1/sessions: one argon2id verify with the service's
//   parameters (BENCH_ARGON2) and hasher, as many at once as the service runs, and nothing
//   else: the floor of any HTTP sign-in on this machine.
// - POST /bare-signin: the same verify with the database work every sign-in must do around it,
//   and nothing else: find the account, store the session (SES-01) and its audit record
//   (LOG-01), on bare better-sqlite3 with Latchkey's own tables and indexes (its migrations)
//   and pragmas. The floor of a sign-in that keeps SECURITY.md, whatever code it is written in.
import { hash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { PasswordHasher } from '../src/security/password-hash.ts';

const app = Fastify({ logger: false });
const body = {
  account: {
    id: 'a1b2c3d4e5f6g7h8',
    username: 'bench0',
    email: 'bench0@example.test',
    status: 'active',
    createdAt: new Date().toISOString(),
  },
  session: { id: 's1t2u3v4w5x6y7z8', expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
};
app.get('/bare', async () => body);
if (process.env.BENCH_ARGON2) {
  const hasher = new PasswordHasher(JSON.parse(process.env.BENCH_ARGON2));
  const stored = await hasher.hash('bench-violet-harbor-0-quantum-meadow');
  app.post('/bare-verify', async (req) => ({
    ok: await hasher.verify(stored, (req.body as { password: string }).password),
  }));

  const signIn = await bareSignIn(stored);
  app.post('/bare-signin', async (req, reply) => {
    const { identifier, password } = req.body as { identifier: string; password: string };
    const account = signIn.find(identifier);
    const ok = await hasher.verify(stored, password);
    if (!account || !ok) return reply.status(401).send({ ok: false });
    return { token: signIn.store(account.id) };
  });
}

/** The tables of a fresh Latchkey database, BENCH_ACCOUNTS accounts, and the three statements. */
async function bareSignIn(passwordHash: string) {
  const { default: SQLite } = await import('better-sqlite3');
  const { migrate, openStore } = await import('../src/store/db.ts');
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bare-'));
  const file = join(dir, 'bare.db');
  const store = openStore(file);
  await migrate(store);
  await store.close();
  const db = new SQLite(file);
  for (const pragma of ['journal_mode = WAL', 'synchronous = NORMAL', 'foreign_keys = ON', 'busy_timeout = 5000'])
    db.pragma(pragma);
  const now = Date.now();
  db.prepare(
    `insert into organizations (id, slug, name, display_name, recovery_settings, created_at) values ('org', 'default', 'Default', 'Default', '{}', ?)`,
  ).run(now);
  const addAccount = db.prepare(
    `insert into accounts (id, org_id, username, username_key, email, email_key, status, password_hash, created_at, updated_at, activated_at)
     values (?, 'org', ?, ?, ?, ?, 'active', ?, ?, ?, ?)`,
  );
  for (let i = 0; i < Number(process.env.BENCH_ACCOUNTS ?? 8); i++) {
    const name = `bare${i}`;
    addAccount.run(
      randomBytes(16).toString('base64url'),
      name,
      name,
      `${name}@example.test`,
      `${name}@example.test`,
      passwordHash,
      now,
      now,
      now,
    );
  }
  const find = db.prepare('select * from accounts where username_key = ?');
  const addSession = db.prepare(
    `insert into sessions (id, account_id, token_hash, created_at, last_seen_at, expires_at, auth_at, method, ip, user_agent)
     values (?, ?, ?, ?, ?, ?, ?, 'password', '127.0.0.1', ?)`,
  );
  const addAudit = db.prepare(
    `insert into audit_log (id, at, event, account_id, actor_id, ip, user_agent, correlation_id, details)
     values (?, ?, 'sign_in.succeeded', ?, null, '127.0.0.1', ?, ?, '{"method":"password"}')`,
  );
  let requests = 0;
  process.once('exit', () => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    find: (identifier: string) => find.get(identifier.toLowerCase()) as { id: string } | undefined,
    /** Stores a new session and its audit record; returns the session's token. */
    store(accountId: string): string {
      const at = Date.now();
      const token = randomBytes(32).toString('base64url');
      const tokenHash = hash('sha256', token, 'base64url');
      addSession.run(
        randomBytes(16).toString('base64url'),
        accountId,
        tokenHash,
        at,
        at,
        at + 86_400_000,
        at,
        'autocannon',
      );
      addAudit.run(randomBytes(16).toString('base64url'), at, accountId, 'autocannon', `bare-${requests++}`);
      return token;
    },
  };
}
await app.listen({ host: '127.0.0.1', port: Number(process.env.BENCH_PORT) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
