// The yardsticks, started the same way as the service (`node --import tsx`), on the same Fastify:
// - GET /bare, for GET /api/v1/sessions/current: a JSON body of the same shape, no database work;
// - POST /bare-verify, for POST /api/v1/sessions: one argon2id verify with the service's
//   parameters (BENCH_ARGON2) and hasher, as many at once as the service runs, and nothing
//   else: the floor of any HTTP sign-in on this machine.
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
}
await app.listen({ host: '127.0.0.1', port: Number(process.env.BENCH_PORT) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
