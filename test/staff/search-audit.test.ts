import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { csvCell } from '../../src/flows/staff/audit-trail.ts';
import { withServer } from '../support/fixture.ts';
import { cast } from './helpers.ts';

type Cast = Awaited<ReturnType<typeof cast>>;

describe('account search, audit trail and export', () => {
  const fx = withServer();
  let c: Cast;
  before(async () => {
    c = await cast(fx.server);
    const db = fx.server.deps.db;
    await db.updateTable('accounts').set({ phone: '+447700900123' }).where('id', '=', c.target.id).execute();
    // ~1200 records of one event, so the export crosses its batch boundaries
    const now = Date.now();
    const rows = Array.from({ length: 1234 }, (_, i) => ({
      id: `bulk-${String(i).padStart(5, '0')}`,
      at: now - 100_000 + i,
      event: 'test.bulk',
      account_id: c.member.id,
      actor_id: null,
      ip: '10.0.0.1',
      user_agent: i === 0 ? '=HYPERLINK("http://evil.test","click")' : i === 1 ? '@SUM(1+1)' : 'bulk agent',
      correlation_id: null,
      details: i === 2 ? JSON.stringify({ note: '+cmd|calc' }) : null,
    }));
    for (let i = 0; i < rows.length; i += 200)
      await db
        .insertInto('audit_log')
        .values(rows.slice(i, i + 200))
        .execute();
  });

  const search = (q: string, who: 'admin' | 'otherOrgAdmin' | 'ownOrgAdmin' = 'admin', exact = false) =>
    c[who].client.get(`/api/v1/admin/accounts?q=${encodeURIComponent(q)}${exact ? '&exact=1' : ''}`);

  test('search finds by username, email and phone, exact and prefix, on the normalised keys', async () => {
    const u = c.target.username;
    const exact = await search(u.toUpperCase(), 'admin', true);
    assert.equal(exact.status, 200);
    assert.deepEqual(
      exact.json.accounts.map((a: { id: string }) => a.id),
      [c.target.id],
    );
    assert.equal(exact.json.accounts[0].match, 'username');
    // full-width letters fold to the same key (ID-02)
    const wide = [...u.slice(0, 5)]
      .map((ch) => (/[a-z]/.test(ch) ? String.fromCharCode(ch.charCodeAt(0) + 0xfee0) : ch))
      .join('');
    const prefix = await search(wide);
    assert.ok(
      prefix.json.accounts.some(
        (a: { id: string; match: string }) => a.id === c.target.id && a.match === 'username prefix',
      ),
    );
    const email = await search(c.target.email.toUpperCase(), 'admin', true);
    assert.deepEqual(
      email.json.accounts.map((a: { match: string }) => a.match),
      ['email'],
    );
    const emailPrefix = await search(c.target.email.slice(0, 8));
    assert.ok(emailPrefix.json.accounts.some((a: { id: string }) => a.id === c.target.id));
    const phone = await search('+44 7700 900123', 'admin', true);
    assert.deepEqual(
      phone.json.accounts.map((a: { id: string; match: string }) => [a.id, a.match]),
      [[c.target.id, 'phone']],
    );
    const phonePrefix = await search('0044 7700');
    assert.ok(
      phonePrefix.json.accounts.some(
        (a: { id: string; match: string }) => a.id === c.target.id && a.match === 'phone prefix',
      ),
    );
    // exact matches come first
    const mixed = await search(u);
    assert.equal(mixed.json.accounts[0].id, c.target.id);
  });

  test('ADM-05 an organization admin finds only its own organization’s members', async () => {
    const own = await search(c.target.username, 'ownOrgAdmin');
    assert.ok(own.json.accounts.some((a: { id: string }) => a.id === c.target.id));
    const other = await search(c.target.username, 'otherOrgAdmin');
    assert.equal(other.status, 200);
    assert.deepEqual(other.json.accounts, []);
    const staff = await search(c.admin.username, 'ownOrgAdmin');
    assert.deepEqual(staff.json.accounts, []);
  });

  test('hostile search input: wildcards are literal, odd characters are refused or find nothing, never a 5xx', async () => {
    for (const q of [
      '%',
      '_',
      '\\',
      '%%%',
      "' OR 1=1 --",
      'a\u0000b',
      '\u202e',
      '💥',
      '@',
      '+',
      '0000',
      '<script>alert(1)</script>',
    ]) {
      const res = await search(q);
      assert.ok(res.status === 200 || res.status === 400, `${JSON.stringify(q)}: ${res.status}`);
      if (res.status === 200)
        assert.ok(
          res.json.accounts.length === 0 || q === '@' || q === '+' || q === '0000',
          `${JSON.stringify(q)} matched ${JSON.stringify(res.json.accounts)}`,
        );
    }
    assert.equal((await search('x'.repeat(321))).status, 400);
    assert.equal((await c.admin.client.get('/api/v1/admin/accounts')).status, 400);
    assert.equal((await c.admin.client.get('/api/v1/admin/accounts?q=a&exact=2')).status, 400);
    assert.equal((await c.admin.client.get('/api/v1/admin/accounts?q=a&sort=evil')).status, 400);
    assert.equal((await c.admin.client.get(`/api/v1/admin/accounts/${'x'.repeat(65)}`)).status, 400);
    assert.equal((await c.admin.client.get('/api/v1/admin/accounts/..%2F..%2Fetc')).status, 404);
    const page = await c.admin.client.get(`/admin/accounts?q=${encodeURIComponent('<script>alert(1)</script>')}`, {
      accept: 'text/html',
    });
    assert.equal(page.status, 200);
    // only inside the quoted value of the search field, where it is text
    assert.equal(page.text.split('<script>alert(1)').length, 2);
    assert.ok(page.text.includes('value="<script>alert(1)</script>"'));
    const longPage = await c.admin.client.get(`/admin/accounts?q=${'y'.repeat(5000)}`, { accept: 'text/html' });
    assert.equal(longPage.status, 200);
    const odd = await c.admin.client.get('/admin/accounts/%00%ff', { accept: 'text/html' });
    assert.ok(odd.status >= 400 && odd.status < 500, String(odd.status));
  });

  test('hostile action input: unknown actions, oversized and mistyped bodies are 4xx and change nothing', async () => {
    const base = `/api/v1/admin/accounts/${c.target.id}/actions`;
    const r = 'a valid reason here';
    for (const [path, body, status] of [
      [`${base}/explode`, { reason: r }, 400],
      [`${base}/unlock`, { reason: 12345 }, 400],
      [`${base}/unlock`, { reason: 'x'.repeat(2001) }, 400],
      [`${base}/unlock`, { reason: 'x'.repeat(600) }, 400],
      [`${base}/unlock`, {}, 400],
      [`${base}/end_sessions`, { reason: r, session: 'y'.repeat(65) }, 400],
      [`${base}/unlock`, { reason: r, extra: 1 }, 400],
      [`/api/v1/admin/accounts/nope/actions/unlock`, { reason: r }, 404],
    ] as const) {
      const res = await c.admin.client.post(path, body);
      assert.equal(res.status, status, `${path} ${JSON.stringify(body).slice(0, 60)}: ${res.text.slice(0, 200)}`);
    }
    const notJson = await c.admin.client.post(`${base}/unlock`, '{"reason":', { 'content-type': 'application/json' });
    assert.equal(notJson.status, 400);
    const foreign = await fx.server.client({ origin: 'https://evil.test' });
    for (const [k, v] of c.admin.client.cookies) foreign.cookies.set(k, v);
    assert.equal((await foreign.post(`${base}/unlock`, { reason: r })).status, 403, 'WEB-01 another origin');
    const pageForeign = await foreign.form(`/admin/accounts/${c.target.id}/act`, { action: 'unlock', reason: r });
    assert.equal(pageForeign.status, 403);
  });

  test('audit trail filters by account, actor, event (exact and prefix) and time, page by page', async () => {
    const all = await c.admin.client.get(`/api/v1/admin/audit?account=${c.member.username}&event=test.bulk`);
    assert.equal(all.status, 200);
    assert.equal(all.json.records.length, 100);
    assert.ok(all.json.next);
    const next = await c.admin.client.get(
      `/api/v1/admin/audit?account=${c.member.username}&event=test.bulk&cursor=${encodeURIComponent(all.json.next)}`,
    );
    assert.equal(next.json.records.length, 100);
    assert.ok(next.json.records[0].at <= all.json.records[99].at);
    assert.notEqual(next.json.records[0].details, all.json.records[99].details === undefined);
    const prefix = await c.admin.client.get('/api/v1/admin/audit?event=staff.*');
    assert.ok(prefix.json.records.length > 0);
    assert.ok(prefix.json.records.every((r: { event: string }) => r.event.startsWith('staff.')));
    const actor = await c.admin.client.get(`/api/v1/admin/audit?actor=${c.otherOrgAdmin.username}`);
    assert.ok(actor.json.records.every((r: { actorId: string }) => r.actorId === c.otherOrgAdmin.id));
    const future = await c.admin.client.get('/api/v1/admin/audit?from=2999-01-01');
    assert.deepEqual(future.json.records, []);
    const window = await c.admin.client.get(
      `/api/v1/admin/audit?event=test.bulk&to=${encodeURIComponent(new Date(Date.now() - 99_000).toISOString())}`,
    );
    assert.ok(window.json.records.length > 0 && window.json.records.length < 1234);
    const nobody = await c.admin.client.get('/api/v1/admin/audit?actor=no-such-user');
    assert.deepEqual(nobody.json.records, [], 'an unknown actor filters to nothing');
    for (const bad of ['from=yesterday', 'event=x%27%3B%20drop', 'cursor=abc', `to=${'9'.repeat(41)}`, 'limit=5'])
      assert.equal((await c.admin.client.get(`/api/v1/admin/audit?${bad}`)).status, 400, bad);
    const page = await c.admin.client.get('/admin/audit?from=yesterday', { accept: 'text/html' });
    assert.equal(page.status, 400);
    const html = await c.admin.client.get('/admin/audit?event=test.bulk', { accept: 'text/html' });
    assert.equal(html.status, 200);
    assert.match(html.text, /Older records/);
  });

  test('export streams every matching record as JSON lines or CSV, formula cells defused', async () => {
    const jsonl = await c.support.client.get(`/api/v1/admin/audit/export?event=test.bulk`);
    assert.equal(jsonl.status, 200);
    assert.match(jsonl.headers.get('content-type') ?? '', /ndjson/);
    const lines = jsonl.text.trim().split('\n');
    assert.equal(lines.length, 1234);
    for (const l of lines) assert.equal(JSON.parse(l).event, 'test.bulk');
    const csv = await c.support.client.get(`/api/v1/admin/audit/export?event=test.bulk&format=csv`);
    assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
    const rows = csv.text.trim().split('\r\n');
    assert.equal(rows.length, 1235);
    assert.equal(rows[0], 'at,event,accountId,actorId,actor,ip,userAgent,details');
    assert.ok(csv.text.includes(`"'=HYPERLINK(""http://evil.test"",""click"")"`), 'a formula is prefixed and quoted');
    assert.ok(csv.text.includes(",'@SUM(1+1),"));
    assert.ok(!/(^|,)[=+@-]/m.test(csv.text.replace(/"[^"]*"/g, '""')), 'no cell starts with a formula character');
    const page = await c.support.client.get('/admin/audit/export?format=csv&event=test.bulk', { accept: 'text/html' });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-disposition') ?? '', /attachment/);
    const exported = await fx.server.deps.db
      .selectFrom('audit_log')
      .select('actor_id')
      .where('event', '=', 'staff.audit_exported')
      .execute();
    assert.ok(
      exported.some((r) => r.actor_id === c.support.id),
      'the export is audited',
    );
  });

  test('csvCell quotes and defuses', () => {
    assert.equal(csvCell('=1+1'), "'=1+1");
    assert.equal(csvCell('-2'), "'-2");
    assert.equal(csvCell('\t=x'), "'\t=x");
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell(null), '');
    assert.equal(csvCell({ a: 1 }), '"{""a"":1}"');
  });
});
