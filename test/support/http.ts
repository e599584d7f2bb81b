// A tiny HTTP client with a cookie jar, sending the Origin a browser on the public URL would send.

export interface Res {
  status: number;
  headers: Headers;
  text: string;
  json: any;
  ms: number;
}

export class Client {
  readonly cookies = new Map<string, string>();
  constructor(
    readonly base: string,
    readonly origin: string | null = base,
    readonly extraHeaders: Record<string, string> = {},
  ) {}

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
    const h: Record<string, string> = { accept: 'application/json', ...this.extraHeaders, ...headers };
    if (this.origin && method !== 'GET' && method !== 'HEAD') h.origin ??= this.origin;
    if (this.cookies.size) h.cookie = this.cookieHeader();
    let payload: string | undefined;
    if (body !== undefined) {
      if (typeof body === 'string') payload = body;
      else if (h['content-type'] === 'application/x-www-form-urlencoded')
        payload = new URLSearchParams(body as Record<string, string>).toString();
      else {
        payload = JSON.stringify(body);
        h['content-type'] ??= 'application/json';
      }
    }
    const t0 = performance.now();
    const res = await fetch(this.base + path, { method, headers: h, body: payload, redirect: 'manual' });
    const text = await res.text();
    const ms = performance.now() - t0;
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /max-age=0|expires=thu, 01 jan 1970/i.test(a.trim()));
      if (!value || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json, ms };
  }

  get(path: string, headers?: Record<string, string>) {
    return this.request('GET', path, undefined, headers);
  }
  post(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request('POST', path, body, headers);
  }
  put(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request('PUT', path, body, headers);
  }
  delete(path: string, headers?: Record<string, string>) {
    return this.request('DELETE', path, undefined, headers);
  }
  /** Posts a form as a browser would (urlencoded, Accept: text/html). */
  form(path: string, fields: Record<string, string>) {
    return this.request('POST', path, fields, {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
    });
  }
}
