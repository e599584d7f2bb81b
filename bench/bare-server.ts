// The yardstick for GET /api/v1/sessions/current: the same Fastify, the same process start-up
// (`node --import tsx`), a route answering a JSON body of the same shape with no database work.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
const body = {
  account: { id: 'a1b2c3d4e5f6g7h8', username: 'bench0', email: 'bench0@example.test', status: 'active', createdAt: new Date().toISOString() },
  session: { id: 's1t2u3v4w5x6y7z8', expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
};
app.get('/bare', async () => body);
await app.listen({ host: '127.0.0.1', port: Number(process.env.BENCH_PORT) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
