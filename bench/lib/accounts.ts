import type { Child } from './service.ts';

export interface BenchAccount {
  username: string;
  email: string;
  password: string;
}

const json = (base: string) => ({ 'content-type': 'application/json', origin: base });

async function waitForActivation(base: string, email: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${base}/dev/mailbox.json`);
    const { messages } = (await res.json()) as { messages: { to: string; text: string }[] };
    const m = messages.find((x) => x.to === email && x.text.includes('/activate?token='));
    const token = m?.text.match(/\/activate\?token=([A-Za-z0-9_-]+)/)?.[1];
    if (token) return token;
    if (Date.now() > deadline) throw new Error(`no activation mail for ${email}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Registers and activates accounts the way a user does: the API and the dev mailbox. */
export async function activeAccounts(svc: Child, n: number, prefix = 'bench'): Promise<BenchAccount[]> {
  const out: BenchAccount[] = [];
  for (let i = 0; i < n; i++) {
    const a = {
      username: `${prefix}${i}`,
      email: `${prefix}${i}@example.test`,
      password: `bench-violet-harbor-${i}-quantum-meadow`,
    };
    const reg = await fetch(`${svc.base}/api/v1/registrations`, {
      method: 'POST',
      headers: json(svc.base),
      body: JSON.stringify(a),
    });
    if (reg.status !== 202) throw new Error(`registration of ${a.username}: ${reg.status} ${await reg.text()}`);
    const token = await waitForActivation(svc.base, a.email);
    const act = await fetch(`${svc.base}/api/v1/activations`, {
      method: 'POST',
      headers: json(svc.base),
      body: JSON.stringify({ token }),
    });
    if (act.status !== 200) throw new Error(`activation of ${a.username}: ${act.status} ${await act.text()}`);
    out.push(a);
  }
  return out;
}

/** Signs in and returns the Cookie header value for the new session. */
export async function sessionCookie(svc: Child, a: BenchAccount): Promise<string> {
  const res = await fetch(`${svc.base}/api/v1/sessions`, {
    method: 'POST',
    headers: json(svc.base),
    body: JSON.stringify({ identifier: a.username, password: a.password }),
  });
  if (res.status !== 201) throw new Error(`sign-in of ${a.username}: ${res.status} ${await res.text()}`);
  const set = res.headers.getSetCookie().find((c) => c.includes('latchkey_session='));
  if (!set) throw new Error('no session cookie');
  return set.split(';')[0];
}
