import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { clearCookie, readCookie, readSignedCookie, setCookie, signCookieValue } from '../../src/web/cookies.ts';

// src/web/cookies.ts replaced a cookie plugin on the hot path; these pin its parsing and signing
// against hostile Cookie headers (WEB-04) and forged signed cookies.

const req = (cookie?: string) => ({ headers: cookie === undefined ? {} : { cookie } }) as unknown as FastifyRequest;

function fakeReply() {
  const lines: string[] = [];
  const reply = {
    header(name: string, value: string) {
      assert.equal(name, 'set-cookie');
      lines.push(value);
      return reply;
    },
  };
  return { reply: reply as unknown as FastifyReply, lines };
}

const opts = { path: '/', httpOnly: true, secure: false, sameSite: 'lax' as const };

describe('cookies', () => {
  test('reads the named cookie only, whatever its neighbours', () => {
    assert.equal(readCookie(req('latchkey_session=abc'), 'latchkey_session'), 'abc');
    assert.equal(readCookie(req('a=1; latchkey_session=abc_-.9; b=2'), 'latchkey_session'), 'abc_-.9');
    assert.equal(readCookie(req('xlatchkey_session=evil; latchkey_session=good'), 'latchkey_session'), 'good');
    assert.equal(readCookie(req('latchkey_session_x=evil'), 'latchkey_session'), undefined);
    assert.equal(readCookie(req('latchkey_session="quoted"'), 'latchkey_session'), 'quoted');
    assert.equal(readCookie(req('latchkey_session=first; latchkey_session=second'), 'latchkey_session'), 'first');
    assert.equal(readCookie(req(), 'latchkey_session'), undefined);
    assert.equal(readCookie(req(''), 'latchkey_session'), undefined);
  });

  test('WEB-04 hostile Cookie headers read as no cookie, never throw', () => {
    for (const header of [
      'latchkey_session=%E0%A4%A',
      'latchkey_session=<script>',
      "latchkey_session=' OR 1=1 --",
      'latchkey_session=a\u0000b',
      ';;;;;',
      '=====',
      'latchkey_session',
      `latchkey_session=${'x'.repeat(64)}%20`,
    ])
      assert.equal(readCookie(req(header), 'latchkey_session'), undefined, header);
    const long = `${'a=b; '.repeat(2000)}latchkey_session=ok`;
    assert.equal(readCookie(req(long), 'latchkey_session'), 'ok');
  });

  test('SES-03 attributes on set and clear; values outside base64url are refused', () => {
    const { reply, lines } = fakeReply();
    setCookie(reply, 'latchkey_session', 'tok-en_1', opts);
    setCookie(reply, '__Host-latchkey_session', 'tok', { ...opts, secure: true, maxAge: 60 });
    clearCookie(reply, 'latchkey_session', opts);
    assert.equal(lines[0], 'latchkey_session=tok-en_1; Path=/; HttpOnly; SameSite=Lax');
    assert.match(
      lines[1] ?? '',
      /^__Host-latchkey_session=tok; Path=\/; Max-Age=60; Expires=[^;]+ GMT; HttpOnly; Secure; SameSite=Lax$/,
    );
    assert.match(lines[2] ?? '', /^latchkey_session=; Path=\/; Max-Age=0; /);
    assert.doesNotMatch(lines.join('\n'), /Domain=/i, 'never a Domain attribute');
    assert.throws(() => setCookie(reply, 'x', 'a;b', opts));
    assert.throws(() => setCookie(reply, 'x', 'a\r\nSet-Cookie: evil=1', opts));
    assert.throws(() => setCookie(reply, 'bad name', 'a', opts));
  });

  test('signed cookies: a changed value, a changed MAC, a wrong key or another name is refused', () => {
    const secret = 's'.repeat(43);
    const signed = signCookieValue(secret, 'latchkey_flow', 'eyJhIjoxfQ');
    assert.equal(readSignedCookie(req(`latchkey_flow=${signed}`), secret, 'latchkey_flow'), 'eyJhIjoxfQ');
    const [value, mac] = signed.split('.') as [string, string];
    assert.equal(readSignedCookie(req(`latchkey_flow=${value}x.${mac}`), secret, 'latchkey_flow'), undefined);
    assert.equal(readSignedCookie(req(`latchkey_flow=${value}.${mac.slice(1)}A`), secret, 'latchkey_flow'), undefined);
    assert.equal(readSignedCookie(req(`latchkey_flow=${signed}`), 't'.repeat(43), 'latchkey_flow'), undefined);
    assert.equal(readSignedCookie(req(`latchkey_welcome=${signed}`), secret, 'latchkey_welcome'), undefined);
    assert.equal(readSignedCookie(req(`latchkey_flow=${value}`), secret, 'latchkey_flow'), undefined);
    assert.equal(readSignedCookie(req('latchkey_flow=.'), secret, 'latchkey_flow'), undefined);
  });
});
