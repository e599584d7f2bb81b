/** What a flow knows about the request that reached it: no HTTP objects, just facts. */
export interface RequestContext {
  ip: string;
  userAgent: string;
  correlationId: string;
  /** the "don't ask again on this browser" device cookie's token, when the browser sent one */
  deviceToken?: string;
}

/** Context for work started by the system itself (worker, command line). */
export const systemContext = (correlationId = 'system'): RequestContext => ({
  ip: '',
  userAgent: 'latchkey',
  correlationId,
});
