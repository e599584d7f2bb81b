import type { FastifyBaseLogger } from 'fastify';

type Bindings = Parameters<FastifyBaseLogger['child']>[0];
type ChildLoggerOptions = NonNullable<Parameters<FastifyBaseLogger['child']>[1]>;

/**
 * Fastify gives every request a child logger. We log per request only on errors and audit
 * events, yet building a pino child (bindings serialised up front) on every request was a
 * visible share of a session check in the bench; this one becomes a real child on first use.
 */
class LazyChild {
  private real?: FastifyBaseLogger;
  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings?: Bindings,
    private readonly opts?: ChildLoggerOptions,
  ) {
    // Without bindings this stands for the root logger itself (withLazyChildren), not a child.
    if (bindings === undefined) this.real = parent;
  }
  private get logger(): FastifyBaseLogger {
    this.real ??= this.parent.child(this.bindings as Bindings, this.opts);
    return this.real;
  }
  get level() {
    return this.real?.level ?? this.parent.level;
  }
  set level(level) {
    this.logger.level = level;
  }
  fatal(...args: Parameters<FastifyBaseLogger['fatal']>) {
    this.logger.fatal(...args);
  }
  error(...args: Parameters<FastifyBaseLogger['error']>) {
    this.logger.error(...args);
  }
  warn(...args: Parameters<FastifyBaseLogger['warn']>) {
    this.logger.warn(...args);
  }
  info(...args: Parameters<FastifyBaseLogger['info']>) {
    this.logger.info(...args);
  }
  debug(...args: Parameters<FastifyBaseLogger['debug']>) {
    this.logger.debug(...args);
  }
  trace(...args: Parameters<FastifyBaseLogger['trace']>) {
    this.logger.trace(...args);
  }
  silent(...args: Parameters<FastifyBaseLogger['silent']>) {
    this.logger.silent(...args);
  }
  child(bindings: Bindings, opts?: ChildLoggerOptions): FastifyBaseLogger {
    return new LazyChild(this.logger, bindings, opts) as unknown as FastifyBaseLogger;
  }
}

/**
 * `logger` as Fastify's loggerInstance, with children made on first use. Lazy children through
 * the logger itself, not through a childLoggerFactory: Fastify checks every child a factory
 * makes for its seven methods, which was 14 megamorphic property reads on every request.
 */
export function withLazyChildren(logger: FastifyBaseLogger): FastifyBaseLogger {
  return new LazyChild(logger) as unknown as FastifyBaseLogger;
}
