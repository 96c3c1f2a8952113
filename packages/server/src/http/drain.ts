/**
 * The drain of a stopping instance (SIGTERM until its answers in flight have ended, and at least the
 * operator's minimum drain): it keeps listening, so a load balancer's check on a new connection
 * reads 503 and takes it out, rather than a refused connection; every new request gets a 503 to
 * retry elsewhere, and `connection: close` ends the keep-alive connections clients and proxies hold.
 * What only ends work already in flight (a member's Stop) still answers: refusing it would leave
 * the answer running to the end of the grace period against the member's wish.
 */
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `ends-work`: the route only ends work in flight (Stop), so it still answers during the drain. */
    drain?: 'ends-work';
  }
}

/** `retry-after` (seconds) of what a draining instance refuses: another instance answers at once. */
const DRAIN_RETRY_AFTER_S = 1;

/** Whether the instance drains; `start` is called once, by the stop. */
export interface Drain {
  readonly active: boolean;
  start(): void;
}

/** What the refusal of new work says; the `/v1` surface answers in OpenAI's error shape. */
const DRAIN_MESSAGE = 'this instance is shutting down; retry the request';

/**
 * Installs the drain's refusal as the first `onRequest` hook (before the guard: a refused request
 * is not authenticated). `v1Body` is the `/v1` surface's error body for {@link DRAIN_MESSAGE}.
 */
export function installDrain(app: FastifyInstance, v1Body: (message: string) => unknown): Drain {
  let active = false;
  app.addHook('onRequest', (request, reply, done) => {
    if (!active) return done();
    reply.header('connection', 'close');
    const path = request.url.split('?')[0] ?? '';
    // Liveness: the process answers; a probe failing now would only get it killed mid-drain.
    if (path === '/healthz') return done();
    if (request.routeOptions.config.drain === 'ends-work') return done();
    reply.code(503).header('retry-after', String(DRAIN_RETRY_AFTER_S));
    if (path === '/readyz') return void reply.send({ status: 'shutting_down' });
    const v1 = path === '/v1' || path.startsWith('/v1/');
    void reply.send(
      v1 ? v1Body(DRAIN_MESSAGE) : { error: { code: 'server_shutting_down', message: DRAIN_MESSAGE } },
    );
  });
  return {
    get active() {
      return active;
    },
    start() {
      active = true;
    },
  };
}
