import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { countOpenByKind, openReviewItem, resolveReviewItem } from '../../src/store/review-items.ts';
import { withServer } from '../support/fixture.ts';
import { accountId, consoleClient, grantStaff, makeAccounts, statusLinkIn } from './helpers.ts';

describe('support requests and the review queue on PostgreSQL, two processes', () => {
  const fx = withServer({ pg: true, smtp: true, twin: true });
  before(async () => {
    if (!fx.running) return;
    await makeAccounts(fx.server, ['pgracer', 'pgsupport', 'pghelp']);
    await grantStaff(fx.server, 'pgsupport', 'support');
  });

  test('LOG-04 parallel openings from two processes leave one open item per account and kind; after resolving, a new one can open', async (t) => {
    if (!fx.ready(t)) return;
    const id = await accountId(fx.server, 'pgracer');
    const input = { kind: 'flagged_resets' as const, accountId: id, reason: 'possibly compromised' };
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => openReviewItem(i % 2 ? fx.twin.deps : fx.server.deps, input)),
    );
    const opened = results.filter((r): r is string => r !== null);
    assert.equal(opened.length, 1, 'exactly one caller opened it');
    assert.equal((await countOpenByKind(fx.server.deps.db)).flagged_resets, 1);
    assert.ok(await resolveReviewItem(fx.twin.deps.db, opened[0] as string, id, 'legitimate', Date.now()));
    assert.equal(await resolveReviewItem(fx.server.deps.db, opened[0] as string, id, 'legitimate', Date.now()), false);
    assert.ok(await openReviewItem(fx.server.deps, input), 'a resolved item no longer blocks a new one');
  });

  test('ADM-08 a request filed on one process is in the queue and answered from the other; the status link works on both', async (t) => {
    if (!fx.ready(t)) return;
    const to = 'pg-filer@contact.test';
    const filed = await fx.server.client().post('/api/v1/support-requests', {
      identifier: 'pghelp',
      contact: to,
      message: 'Lost my phone.',
    });
    assert.equal(filed.status, 202);
    const link = statusLinkIn(await fx.mail(to, /Your support request/));
    const staff = await consoleClient(fx.twin, 'pgsupport');
    const list = await staff.get('/api/v1/admin/queue?kind=support_request');
    assert.equal(list.status, 200, list.text);
    const item = list.json.items.find(
      (i: { account: { username: string } | null }) => i.account?.username === 'pghelp',
    );
    assert.ok(item);
    assert.equal((await staff.post(`/api/v1/admin/queue/${item.id}/reply`, { body: 'We are on it.' })).status, 202);
    await fx.mail(to, /Reply to your support request/);
    for (const server of [fx.server, fx.twin]) {
      const s = await server.client().get(`/api/v1/support-requests/${link.id}?sig=${link.sig}`);
      assert.equal(s.status, 200);
      assert.equal(s.json.status, 'answered');
    }
  });
});
