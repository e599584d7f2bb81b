import { Agent, request } from 'node:http';

// A lean keep-alive HTTP client for load generators that share the machine with the service:
// fetch (undici) costs this process ~0.7 ms of CPU per request on the 2-core bench machine, a
// cost that lands on the same cores as the service and weighs more on a flow of two requests
// than on a flow of one. node:http with a keep-alive agent costs a fraction of it.

export interface Answer {
  status: number;
  setCookie: string[];
}

export function keepAliveClient(base: string, sockets: number) {
  const url = new URL(base);
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
            origin: base,
            ...headers,
          },
        },
        (res) => {
          res.resume(); // the body is not needed; reading it frees the socket for the next request
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, setCookie: (res.headers['set-cookie'] as string[]) ?? [] }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  return { post, close: () => agent.destroy() };
}
