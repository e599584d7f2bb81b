import { Type } from '@sinclair/typebox';
import { isoTime } from '../../security/clock.ts';
import type { Account } from '../../store/accounts.ts';

/** Views use nothing of the container; the parameter keeps every view's signature alike. */
export type SessionsViewsDeps = object;

export const AccountView = Type.Object({
  id: Type.String(),
  username: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(),
  hasPassword: Type.Boolean(),
  createdAt: Type.String(),
  /** the language the account chose (PUT /account/language), null when it follows the browser */
  language: Type.Union([Type.String(), Type.Null()]),
});

export const SessionRef = Type.Object({ id: Type.String(), expiresAt: Type.String() });

export const SessionItem = Type.Object({
  id: Type.String(),
  createdAt: Type.String(),
  lastSeenAt: Type.String(),
  expiresAt: Type.String(),
  method: Type.String(),
  ip: Type.Union([Type.String(), Type.Null()]),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean(),
});

export function accountView(_d: SessionsViewsDeps, a: Account) {
  return {
    id: a.id,
    username: a.username,
    email: a.email,
    status: a.status,
    hasPassword: a.password_hash !== null,
    createdAt: isoTime(a.created_at),
    language: a.locale,
  };
}
