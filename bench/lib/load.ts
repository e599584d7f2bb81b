import autocannon from 'autocannon';

export interface LoadResult {
  connections: number;
  durationS: number;
  requests: number;
  reqPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface LoadOptions {
  url: string;
  connections: number;
  /** seconds; every run is bounded in time */
  duration: number;
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  headers?: Record<string, string>;
  /** one request body per entry, cycled through by each connection */
  bodies?: string[];
}

/** One autocannon run against 127.0.0.1, summarised. */
export async function load(o: LoadOptions): Promise<LoadResult> {
  if (!o.url.startsWith('http://127.0.0.1:')) throw new Error('the bench only loads 127.0.0.1');
  const result = await autocannon({
    url: o.url,
    connections: o.connections,
    duration: o.duration,
    method: o.method ?? 'GET',
    headers: o.headers,
    requests: o.bodies?.map((body) => ({ method: o.method ?? 'POST', body, headers: o.headers })),
    timeout: 10,
  });
  return {
    connections: o.connections,
    durationS: o.duration,
    requests: result.requests.total,
    reqPerSec: round(result.requests.total / o.duration),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

export const round = (n: number, places = 1) => Math.round(n * 10 ** places) / 10 ** places;
