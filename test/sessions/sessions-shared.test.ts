import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { activeAccount, signedIn } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';

// SQLite remembers the session rows it found until the database changes (src/store/db.ts). Two
// servers on one SQLite file are two connections, exactly as two processes would be: a sign-out
// or password change on one must end the session on the other too.
const COOKIE = 'latchkey_session';

describe('one SQLite file, two servers', () => {
  // A is fx.server, B fx.twin. B runs no delivery worker: its own outbox writes would drop what it
  // remembers and hide a missed commit from A. B must notice A's commits by itself.
  const fx = withServer({ twin: { overrides: { worker: false } } });

  const onB = (token: string) => {
    const c = fx.twin.client();
    c.cookies.set(COOKIE, token);
    return c;
  };

  test('SES-04 a sign-out on one server ends the session on the other within milliseconds', async () => {
    const acct = await activeAccount(fx.server);
    const c = await signedIn(fx.server, acct.username, acct.password);
    const token = c.cookies.get(COOKIE) ?? '';
    const other = onB(token);
    // twice, so the second answer comes from the row B remembered
    assert.equal((await other.get('/api/v1/sessions/current')).status, 200);
    assert.equal((await other.get('/api/v1/sessions/current')).status, 200);
    assert.equal((await c.delete('/api/v1/sessions/current')).status, 204);
    // the same server refuses at once, with no wait
    const replay = fx.server.client();
    replay.cookies.set(COOKIE, token);
    assert.equal((await replay.get('/api/v1/sessions/current')).status, 401);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await other.get('/api/v1/sessions/current')).status, 401);
  });

  test('SES-06 a password change on one server ends the other sessions on the other', async () => {
    const acct = await activeAccount(fx.server);
    const changer = await signedIn(fx.server, acct.username, acct.password);
    const elsewhere = await signedIn(fx.server, acct.username, acct.password);
    const other = onB(elsewhere.cookies.get(COOKIE) ?? '');
    assert.equal((await other.get('/api/v1/sessions/current')).status, 200);
    const change = await changer.put('/api/v1/account/password', {
      currentPassword: acct.password,
      newPassword: strongPassword(),
    });
    assert.equal(change.status, 200, change.text);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await other.get('/api/v1/sessions/current')).status, 401);
    // and the changer's own, rotated session still works on both
    const rotated = onB(changer.cookies.get(COOKIE) ?? '');
    assert.equal((await rotated.get('/api/v1/sessions/current')).status, 200);
  });
});
