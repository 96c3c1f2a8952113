/**
 * The simulator's HTTP server. Built on `node:http` on purpose, not a framework: faults need
 * socket-level control (reset before any header, hang, stall, abrupt cut mid-body) that routing
 * frameworks hide or "helpfully" repair.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DEFAULT_ANSWER_TOKENS } from './answer.js';
import { AttemptLog } from './attempts.js';
import { handleControl, type ControlTarget } from './control.js';
import { DEFAULT_FLAP_MS, FaultStore } from './faults.js';
import { resolveEffect } from './effect.js';
import { Exchange } from './exchange.js';
import { readBody, sendJson } from './io.js';
import { parseModelName, type ModelOptions } from './model-options.js';
import { listModels } from './models.js';
import { planAnswer, refusedPlan, type ChatRequest } from './plan.js';
import { RequestError, header, type ProtocolAdapter, type RequestContext } from './protocols/shared.js';
import { respond, sendError } from './respond.js';
import { route } from './router.js';
import type { FaultRule, ProtocolName, Simulator, SimulatorOptions } from './types.js';

const ID_PREFIX: Record<ProtocolName, { id: string; tool: string }> = {
  openai: { id: 'chatcmpl-sim', tool: 'call_sim' },
  azure: { id: 'chatcmpl-sim', tool: 'call_sim' },
  anthropic: { id: 'msg_sim', tool: 'toolu_sim' },
  gemini: { id: 'sim-', tool: 'call_sim' },
};

/** Shared state of one simulator instance. */
class State {
  readonly faults = new FaultStore();
  readonly log: AttemptLog;
  readonly seen = new Map<string, Set<string>>();
  /** When each model-name flap (per provider and full model name) was first requested. */
  readonly flapStart = new Map<string, number>();
  readonly open = new Set<Exchange>();

  constructor(readonly opts: Required<SimulatorOptions>) {
    this.log = new AttemptLog(opts.logAttempts);
  }

  see(provider: string, model: string): void {
    const set = this.seen.get(provider) ?? new Set<string>();
    set.add(model);
    this.seen.set(provider, set);
  }

  /** The rule for this attempt: a stored one, else the model name's options. */
  ruleFor(
    provider: string,
    options: ModelOptions,
    requested: string,
  ): { rule?: FaultRule; flapDown: boolean } {
    const now = Date.now();
    const stored = this.faults.take(provider, options.base, requested, now);
    if (stored !== undefined) return { rule: stored, flapDown: true };
    const rule = options.rule;
    if (rule === undefined) return { flapDown: false };
    if (rule.fault !== 'flap') return { rule, flapDown: false };
    const key = `${provider}\n${requested}`;
    const start = this.flapStart.get(key) ?? now;
    this.flapStart.set(key, start);
    return { rule, flapDown: now - start < (rule.durationMs ?? DEFAULT_FLAP_MS) };
  }
}

function anyCredential(req: IncomingMessage, query: URLSearchParams): boolean {
  const h = req.headers;
  return Boolean(
    (header(h, 'authorization') ?? '').replace(/^Bearer\s*/, '') ||
    header(h, 'x-api-key') ||
    header(h, 'api-key') ||
    header(h, 'x-goog-api-key') ||
    query.get('key'),
  );
}

/** The model name a (possibly invalid) body asks for, for the attempt record of a rejection. */
function modelHint(body: unknown, ctx: RequestContext): string {
  if (ctx.pathModel !== undefined) return ctx.pathModel;
  if (typeof body === 'object' && body !== null && 'model' in body && typeof body.model === 'string')
    return body.model;
  return '';
}

async function handleChat(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  provider: string,
  adapter: ProtocolAdapter,
  ctx: RequestContext,
): Promise<void> {
  let bodyText: string;
  try {
    bodyText = await readBody(req);
  } catch {
    res.destroy();
    return;
  }
  let body: unknown;
  let request: ChatRequest | undefined;
  let options: ModelOptions | undefined;
  let rejection = adapter.check(ctx);
  if (rejection === undefined) {
    try {
      body = JSON.parse(bodyText);
      request = adapter.parse(body, ctx);
      options = parseModelName(request.requestedModel);
      rejection = refusedByModel(adapter, request, options);
    } catch (err) {
      // Tested one class at a time: RequestError has SyntaxError's shape, so a combined instanceof
      // narrowing may reduce the union to SyntaxError and type the other branch as never.
      let message: string;
      if (err instanceof RequestError) message = err.message;
      else if (err instanceof SyntaxError) message = 'The request body is not valid JSON.';
      else throw err;
      rejection = adapter.error('invalid_request', { model: modelHint(body, ctx), inputTokens: 0, message });
    }
  }
  const requested = request?.requestedModel ?? modelHint(body, ctx);
  const base = options?.base ?? requested.split('+')[0] ?? requested;
  const tokens = options?.tokens ?? state.opts.answerTokens;
  const planned = request === undefined ? undefined : planAnswer(request, tokens);
  const record = state.log.start({
    provider,
    model: base,
    requestedModel: requested,
    protocol: adapter.protocol,
    stream: request?.stream ?? ctx.pathStream ?? false,
    prefill: planned?.prefill ?? false,
    continuation: planned?.continuation ?? false,
  });
  const x = new Exchange(req, res, record, (done) => state.open.delete(done));
  state.open.add(x);
  if (rejection !== undefined || request === undefined || options === undefined || planned === undefined) {
    record.outcome = 'rejected';
    sendError(x, rejection ?? adapter.error('invalid_request', { model: requested, inputTokens: 0 }), false);
    return;
  }
  state.see(provider, base);
  const { rule, flapDown } = state.ruleFor(provider, options, requested);
  const effect = resolveEffect(rule, planned, flapDown);
  if (effect.fault !== undefined) record.fault = effect.fault;
  const plan = effect.fault === 'refusal' ? refusedPlan(planned) : planned;
  const prefix = ID_PREFIX[adapter.protocol];
  const encode = {
    id: `${prefix.id}${record.seq}`,
    toolCallId: `${prefix.tool}${record.seq}`,
    model: requested,
    created: Math.floor(Date.now() / 1000),
    plan,
    includeUsage: request.includeUsage,
  };
  const chunkDelayMs = options.chunkDelayMs ?? state.opts.chunkDelayMs;
  await respond(x, { adapter, request, plan, effect, encode, chunkDelayMs });
}

/** What the model named with options refuses in `request`, as real ones do: a 400, or nothing. */
function refusedByModel(adapter: ProtocolAdapter, request: ChatRequest, options: ModelOptions) {
  const model = request.requestedModel;
  const param = options.reasoning ? request.notForReasoning?.[0] : undefined;
  if (param !== undefined) return adapter.error('unsupported_parameter', { model, inputTokens: 0, param });
  const max = options.maxOutput;
  if (max !== undefined && request.maxTokens !== undefined && request.maxTokens > max) {
    const message = `max_tokens is too large: ${request.maxTokens}. This model supports at most ${max} completion tokens.`;
    return adapter.error('invalid_request', { model, inputTokens: 0, message });
  }
  return undefined;
}

async function handle(
  state: State,
  sim: ControlTarget,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://simulator');
  const method = req.method ?? 'GET';
  const r = route(method, url.pathname);
  switch (r.kind) {
    case 'chat': {
      const ctx: RequestContext = { headers: req.headers, query: url.searchParams };
      if (r.pathModel !== undefined) ctx.pathModel = r.pathModel;
      if (r.pathStream !== undefined) ctx.pathStream = r.pathStream;
      return handleChat(state, req, res, r.provider, r.adapter, ctx);
    }
    case 'control': {
      const bodyText = method === 'POST' ? await readBody(req, 1024 * 1024) : '';
      const result = handleControl(sim, method, r.path, url.searchParams, bodyText);
      return sendJson(res, result.status, result.body);
    }
    case 'models': {
      if (!anyCredential(req, url.searchParams)) {
        return sendJson(res, 401, { error: { message: 'missing API key', type: 'authentication_error' } });
      }
      const names = [...(state.seen.get(r.provider) ?? [])];
      return sendJson(res, 200, listModels(r.family, names, req.headers));
    }
    case 'unknown':
      req.resume();
      return sendJson(res, 404, {
        error: { message: `simulator: no endpoint ${method} ${url.pathname}`, type: 'not_found_error' },
      });
  }
}

/** Starts a simulator listening on loopback (an ephemeral port unless `port` is given). */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const opts: Required<SimulatorOptions> = {
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    chunkDelayMs: options.chunkDelayMs ?? 0,
    answerTokens: options.answerTokens ?? DEFAULT_ANSWER_TOKENS,
    logAttempts: options.logAttempts ?? true,
  };
  const state = new State(opts);
  const server = createServer();
  // Every client connection, so tests can tell a leaked socket from an idle keep-alive one.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let closing: Promise<void> | undefined;
  const sim: ControlTarget = {
    url: `http://${hostForUrl}:${port}`,
    port,
    setFault: (rule) => state.faults.add(rule, Date.now()),
    addRule: (input) => state.faults.add(input, Date.now()),
    removeFault: (id) => state.faults.remove(id),
    faults: () => state.faults.list(Date.now()),
    clearFaults: () => state.faults.clear(),
    attempts: (filter) => state.log.list(filter),
    sockets: () => ({ open: sockets.size, active: state.open.size }),
    clearAttempts: () => state.log.clear(),
    reset: () => {
      state.faults.clear();
      state.log.clear();
      state.flapStart.clear();
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const x of state.open) x.shutdown();
        server.closeAllConnections();
      });
      return closing;
    },
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    res.on('error', () => undefined);
    handle(state, sim, req, res).catch(() => {
      if (res.destroyed) return;
      if (!res.headersSent)
        sendJson(res, 500, { error: { message: 'simulator internal error', type: 'api_error' } });
      else res.destroy();
    });
  });
  return sim;
}
