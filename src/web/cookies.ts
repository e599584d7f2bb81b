import type { FastifyReply, FastifyRequest } from 'fastify';
import { keyedHash, safeEqual } from '../security/hashing.ts';

/*
 * Our few cookies, read on demand and written as Set-Cookie headers. A cookie plugin parsed every
 * request's Cookie header in one hook and ran another on every reply; those two hook phases were a
 * visible share of GET /api/v1/sessions/current in the bench, while only a handful of routes
 * touch a cookie. Every value we write is base64url (tokens, packed JSON) plus, when signed, a
 * dot and an HMAC, so values never need encoding.
 */

export interface CookieOptions {
  path: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite: 'lax' | 'strict';
  /** seconds; without it the cookie lasts for the browser session */
  maxAge?: number;
}

const VALUE = /^[A-Za-z0-9_.-]*$/;
const NAME = /^[A-Za-z0-9_-]+$/;

/** The named cookie of the request, or undefined. The first of repeated names wins. */
export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  const prefix = `${name}=`;
  let at = 0;
  while (at < header.length) {
    while (header.charCodeAt(at) === 32) at++; // spaces after ';'
    let end = header.indexOf(';', at);
    if (end === -1) end = header.length;
    if (header.startsWith(prefix, at)) {
      let value = header.slice(at + prefix.length, end).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      // Ours are never encoded; anything that is (or is malformed) is simply not ours.
      return VALUE.test(value) ? value : undefined;
    }
    at = end + 1;
  }
  return undefined;
}

export function setCookie(reply: FastifyReply, name: string, value: string, o: CookieOptions): void {
  if (!NAME.test(name) || !VALUE.test(value)) throw new Error(`cookie ${name}: value outside the base64url alphabet`);
  let line = `${name}=${value}; Path=${o.path}`;
  if (o.maxAge !== undefined) {
    const s = Math.max(0, Math.floor(o.maxAge));
    line += `; Max-Age=${s}; Expires=${new Date(Date.now() + s * 1000).toUTCString()}`;
  }
  if (o.httpOnly) line += '; HttpOnly';
  if (o.secure) line += '; Secure';
  line += `; SameSite=${o.sameSite === 'strict' ? 'Strict' : 'Lax'}`;
  // Fastify keeps several set-cookie headers as a list.
  reply.header('set-cookie', line);
}

export function clearCookie(reply: FastifyReply, name: string, o: CookieOptions): void {
  setCookie(reply, name, '', { ...o, maxAge: 0 });
}

/** `value.mac`: the MAC binds the value to the cookie's name, so one signed cookie never passes for another. */
export function signCookieValue(secret: string, name: string, value: string): string {
  return `${value}.${keyedHash(secret, `cookie:${name}`, value)}`;
}

/** The value of a signed cookie, or undefined when missing, malformed or tampered with. */
export function readSignedCookie(req: FastifyRequest, secret: string, name: string): string | undefined {
  const raw = readCookie(req, name);
  const dot = raw?.lastIndexOf('.') ?? -1;
  if (!raw || dot <= 0) return undefined;
  const value = raw.slice(0, dot);
  return safeEqual(raw.slice(dot + 1), keyedHash(secret, `cookie:${name}`, value)) ? value : undefined;
}
