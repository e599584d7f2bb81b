import { connect, type Socket } from 'node:net';

// A lean keep-alive HTTP/1.1 client for load generators that share the machine with the service.
// On the 2-core bench machine the generator's CPU lands on the same cores as the service and
// weighs more on a flow of two requests than on a flow of one: fetch (undici) cost ~0.7 ms per
// request, node:http ~0.3–0.4 ms at the mfa bench's pace. This one writes each request as one
// string on a socket of its own pool and reads only the status line, the Set-Cookie headers and
// Content-Length; it serves the service's answers (JSON with a length), nothing more general.

export interface Answer {
  status: number;
  setCookie: string[];
}

interface Conn {
  socket: Socket;
  buf: Buffer;
  waiting?: { resolve: (a: Answer) => void; reject: (e: Error) => void };
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** The answer at the start of `buf` once it is complete: the answer and the bytes it took. */
function parseAnswer(buf: Buffer): { answer: Answer; used: number } | undefined {
  const end = buf.indexOf(HEAD_END);
  if (end < 0) return undefined;
  const head = buf.toString('latin1', 0, end);
  if (/\r\ntransfer-encoding:/i.test(head)) throw new Error('chunked answers are not read by this client');
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
  const used = end + HEAD_END.length + length;
  if (buf.length < used) return undefined;
  const setCookie: string[] = [];
  for (const m of head.matchAll(/\r\nset-cookie: *([^\r]*)/gi)) setCookie.push(m[1] as string);
  return { answer: { status: Number(head.slice(9, 12)), setCookie }, used };
}

export function keepAliveClient(base: string, sockets: number) {
  const url = new URL(base);
  const port = Number(url.port);
  const idle: Conn[] = [];
  const queue: Array<(c: Conn) => void> = [];
  let open = 0;
  let closed = false;

  const release = (c: Conn) => {
    const next = queue.shift();
    if (next) next(c);
    else idle.push(c);
  };
  const fail = (c: Conn, err: Error) => {
    const w = c.waiting;
    c.waiting = undefined;
    w?.reject(err);
  };
  const open1 = (): Conn => {
    open++;
    const c: Conn = { socket: connect(port, url.hostname), buf: Buffer.alloc(0) };
    c.socket.setNoDelay(true);
    c.socket.on('data', (chunk: Buffer) => {
      c.buf = c.buf.length ? Buffer.concat([c.buf, chunk]) : chunk;
      try {
        const got = parseAnswer(c.buf);
        if (!got) return;
        c.buf = c.buf.subarray(got.used);
        const w = c.waiting;
        c.waiting = undefined;
        release(c);
        w?.resolve(got.answer);
      } catch (err) {
        fail(c, err as Error);
        c.socket.destroy();
      }
    });
    c.socket.on('error', (err) => fail(c, err));
    c.socket.on('close', () => {
      open--;
      const i = idle.indexOf(c);
      if (i >= 0) idle.splice(i, 1);
      fail(c, new Error('connection closed before the answer'));
      // a request that waits for a socket gets a new one in place of this
      if (!closed && queue.length && open < sockets) (queue.shift() as (c: Conn) => void)(open1());
    });
    return c;
  };
  const acquire = (): Promise<Conn> => {
    const c = idle.pop();
    if (c) return Promise.resolve(c);
    if (open < sockets) return Promise.resolve(open1());
    return new Promise((resolve) => queue.push(resolve));
  };

  const post = async (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    const c = await acquire();
    const payload = JSON.stringify(body);
    let head = `POST ${path} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\norigin: ${base}\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    return new Promise((resolve, reject) => {
      c.waiting = { resolve, reject };
      c.socket.write(`${head}\r\n${payload}`);
    });
  };
  const close = () => {
    closed = true;
    for (const c of idle.splice(0)) c.socket.destroy();
  };
  return { post, close };
}
