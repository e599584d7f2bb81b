import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hash } from '@node-rs/argon2';
import { PasswordHasher } from '../../src/security/password-hash.ts';

// needsRehash reads the parameters from the PHC string; anything but our own argon2id
// parameters must ask for an upgrade on the next sign-in (PWD-07).

test('PWD-07 needsRehash: only our own argon2id parameters are current', async () => {
  const ours = { memoryCost: 19456, timeCost: 2, parallelism: 1 };
  const h = new PasswordHasher(ours);
  assert.equal(h.needsRehash(await h.hash('correct horse')), false);
  const other = (o: object) => hash('correct horse', { algorithm: 2, ...ours, ...o });
  assert.equal(h.needsRehash(await other({ timeCost: 3 })), true, 'more iterations');
  assert.equal(h.needsRehash(await other({ memoryCost: 20000 })), true, 'more memory');
  assert.equal(h.needsRehash(await other({ parallelism: 2 })), true, 'more lanes');
  assert.equal(h.needsRehash(await other({ algorithm: 1 })), true, 'argon2i');
  assert.equal(h.needsRehash(await other({ algorithm: 0 })), true, 'argon2d');
  const current = await h.hash('correct horse');
  for (const bad of ['', 'garbage', current.replace('v=19', 'v=16'), current.replace('m=19456', 'm=19456x'), `${current}\n`, current.replace(/\$[^$]+$/, '')])
    assert.equal(h.needsRehash(bad), true, JSON.stringify(bad));
});
