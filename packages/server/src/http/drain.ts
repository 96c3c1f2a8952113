/**
 * The drain of a stopping instance (SIGTERM until its answers in flight have ended, and at least the
 * operator's minimum drain): it keeps listening, so a load balancer's check on a new connection
 * reads 503 and takes it out, rather than a refused connection; every new request gets a 503 to
 * retry elsewhere, and `connection: close` ends the keep-alive connections clients and proxies hold.
 * What only ends work already in flight (a member's Stop) still answers: refusing it would leave
 * the answer running to the end of the grace period against the member's wish. What follows work
 * in flight (an answer's event stream) passes too, but answers only for work in flight on this
 * instance: the route refuses the rest itself (`refuseDrained`), as only it knows what is here.
 * The web app's pages and assets are served too: they are files, no work, and a reload refused
 * here would show the browser a bare 503 instead of the app (whose requests then retry elsewhere).
 * A proxy that sends `x-understudy-drain-refusal: close` is refused by closing the connection
 * without a response instead: nginx resends a POST to another instance after a failed connection
 * (`proxy_next_upstream error non_idempotent`) but never after a 503 it cannot tell from the
 * others (`database_unavailable`, `/v1`'s `overloaded`), which must reach the client as they are.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `ends-work`: the route only ends work in flight (Stop), so it still answers during the drain.
     * `follows-work`: the route only follows work in flight; during the drain it is let through with
     * `request.draining` set, and must answer `refuseDrained` unless that work runs on this instance
     * (which it then ends with: the drain waits for that work, not for its followers).
     */
    drain?: 'ends-work' | 'follows-work';
  }
  interface FastifyRequest {
    /** Set on a `follows-work` route's request that came during the drain. */
    draining: boolean;
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
const CHAT_BODY = { error: { code: 'server_shutting_down', message: DRAIN_MESSAGE } };

/** The request header by which a proxy asks to be refused with a closed connection, and its value. */
const CLOSE_HEADER = 'x-understudy-drain-refusal';
const CLOSE_VALUE = 'close';

/** The 503 a draining instance answers (`connection: close` is already set). */
const answer503 = (reply: FastifyReply, body: unknown): FastifyReply =>
  reply.code(503).header('retry-after', String(DRAIN_RETRY_AFTER_S)).send(body);

/**
 * Answers the drain's refusal; `/v1` has its own body. A proxy that asked for it (`CLOSE_HEADER`)
 * gets the connection closed with no response byte, which it resends elsewhere as a failed one:
 * safe, as nothing of the request was read or done.
 */
export function refuseDrained(reply: FastifyReply, body: unknown = CHAT_BODY): FastifyReply {
  if (reply.request.headers[CLOSE_HEADER] !== CLOSE_VALUE) return answer503(reply, body);
  reply.hijack();
  reply.request.raw.socket.destroy();
  return reply;
}

/**
 * Installs the drain's refusal as the first `onRequest` hook (before the guard: a refused request
 * is not authenticated). `v1Body` is the `/v1` surface's error body for {@link DRAIN_MESSAGE}.
 */
export function installDrain(app: FastifyInstance, v1Body: (message: string) => unknown): Drain {
  let active = false;
  app.decorateRequest('draining', false);
  app.addHook('onRequest', (request, reply, done) => {
    if (!active) return done();
    reply.header('connection', 'close');
    const path = request.url.split('?')[0] ?? '';
    // Liveness: the process answers; a probe failing now would only get it killed mid-drain.
    if (path === '/healthz') return done();
    const flag = request.routeOptions.config.drain;
    if (flag === 'ends-work') return done();
    if (flag === 'follows-work') {
      request.draining = true;
      return done();
    }
    // A status report, whoever asks: a check through the proxy still reads 503.
    if (path === '/readyz') return void answer503(reply, { status: 'shutting_down' });
    const v1 = path === '/v1' || path.startsWith('/v1/');
    const api = path === '/api' || path.startsWith('/api/');
    // No route took it and it is not the API's: the web handler's page or asset.
    if (request.is404 && !api && !v1 && (request.method === 'GET' || request.method === 'HEAD'))
      return done();
    void refuseDrained(reply, v1 ? v1Body(DRAIN_MESSAGE) : CHAT_BODY);
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
