/**
 * Request loggers made on first use. Fastify gives every request a pino child (its request id
 * bound); making one serializes the bindings and sets up redaction, about 9 µs of each API
 * request in a CPU profile (`npx tsx bench/profile.ts healthy latency`), while at the usual levels
 * nearly every request logs nothing. This one forwards to a real child, made when a call at an
 * enabled level first comes, so a request that logs still carries its id.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Logger } from 'pino';

const METHODS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

/** Fastify's `childLoggerFactory`: a child of `parent` with `bindings`, made when first needed. */
export function lazyChildLogger(
  parent: FastifyBaseLogger,
  bindings: Bindings,
  opts: ChildLoggerOptions,
): FastifyBaseLogger {
  const base = parent as Logger;
  // A route's own log level (or a logger that is not pino's): nothing to gain, the real thing.
  if (opts.level !== undefined || typeof base.isLevelEnabled !== 'function')
    return parent.child(bindings, opts);
  let real: Logger | undefined;
  const child = (): Logger => (real ??= base.child(bindings, opts));
  const lazy = {
    get level(): string {
      return real ? real.level : base.level;
    },
    set level(level: string) {
      child().level = level;
    },
    silent: () => undefined,
    child: (b: Bindings, o?: ChildLoggerOptions) => child().child(b, o),
  } as unknown as FastifyBaseLogger;
  for (const m of METHODS) {
    (lazy as unknown as Record<string, (...args: unknown[]) => void>)[m] = (...args: unknown[]) => {
      if (!(real ?? base).isLevelEnabled(m)) return;
      const c = child();
      (c[m] as (...a: unknown[]) => void).apply(c, args);
    };
  }
  return lazy;
}
