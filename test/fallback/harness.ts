/**
 * Shared helpers of the end-to-end fallback suite: one simulator per test file on 127.0.0.1, the
 * real provider adapters (their own keep-alive agent), the real engine with `InMemoryHealth`.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, beforeEach } from 'node:test';
import {
  createEngine,
  InMemoryHealth,
  type AnswerEvent,
  type AnswerInput,
  type AnswerResult,
  type Capability,
  type Catalog,
  type ChatRequest,
  type Engine,
  type FallbackSetting,
  type ModelConfig,
  type ProviderConfig,
  type ProviderType,
} from '@understudy/engine';
import { createProviderAgent, createProviderClient } from '@understudy/providers';
import { startSimulator, type AttemptRecord, type Simulator } from '@understudy/simulator';
import type { Agent } from 'undici';

/** The three primary protocols, by the simulator provider name each one acts as. */
export const PROTOCOLS = [
  { name: 'openai', provider: 'oa', type: 'openai' },
  { name: 'anthropic', provider: 'an', type: 'anthropic' },
  { name: 'google', provider: 'gg', type: 'google' },
] as const satisfies readonly { name: string; provider: string; type: ProviderType }[];

export type Protocol = (typeof PROTOCOLS)[number];

/** How the caller consumes the answer. */
export const MODES = ['streaming', 'non-streaming'] as const;
export type Mode = (typeof MODES)[number];

/** Fake keys, distinct per provider, that must never appear in an error message. */
export const KEYS: Record<string, string> = {
  oa: 'sk-test-OA-0f9e8d7c6b5a',
  an: 'sk-ant-test-AN-1a2b3c4d5e',
  gg: 'AIza-test-GG-9z8y7x6w5v',
  bk: 'sk-test-BK-aa11bb22cc33',
  bp: 'sk-ant-test-BP-dd44ee55ff',
  bg: 'AIza-test-BG-0011223344',
};

/** Short timeouts so the suite is fast. */
export const TIMEOUTS = { connectMs: 400, firstTokenMs: 400, stallMs: 400 };

/** Everything a test file shares. */
export interface Env {
  sim: Simulator;
  url: string;
  agent: Agent;
  /** A loopback port nothing listens on. */
  closedPort: number;
  engine(health?: InMemoryHealth, quickRetryDelayMs?: number): Engine;
  close(): Promise<void>;
}

/** A loopback port that was bound then closed, so connecting to it is refused. */
export async function closedLoopbackPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const addr = srv.address();
  assert.ok(addr && typeof addr === 'object');
  const port = addr.port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Starts a simulator on loopback and a real provider client for it; `close` stops both. */
export async function startEnv(): Promise<Env> {
  const sim = await startSimulator({ host: '127.0.0.1', port: 0 });
  const agent = createProviderAgent();
  const client = createProviderClient({ dispatcher: agent });
  const closedPort = await closedLoopbackPort();
  return {
    sim,
    url: sim.url,
    agent,
    closedPort,
    engine: (health = new InMemoryHealth(), quickRetryDelayMs?: number) =>
      createEngine({
        client,
        health,
        ...(quickRetryDelayMs !== undefined && { options: { quickRetryDelayMs } }),
      }),
    async close() {
      await sim.close();
      await agent.close();
    },
  };
}

/**
 * The environment of one `describe`: started before its tests, stopped after them, the simulator
 * reset before each. Filled in by the `before` hook, so it is read inside tests only.
 */
export function suiteEnv(): Env {
  const env = {} as Env;
  before(async () => {
    Object.assign(env, await startEnv());
  });
  after(() => env.close());
  beforeEach(() => env.sim.reset());
  return env;
}

/** A provider of `type` acting as simulator provider `name` (or at an explicit base URL). */
export function provider(
  env: Env,
  id: string,
  type: ProviderType,
  baseUrl?: string,
  label = `Provider ${id}`,
): ProviderConfig {
  const path = type === 'openai' || type === 'openai-compatible' ? `/p/${id}/v1` : `/p/${id}`;
  return { id, type, label, baseUrl: baseUrl ?? `${env.url}${path}`, apiKey: KEYS[id] ?? `key-${id}` };
}

/** A base URL for `type` at an origin (adds `/v1` for the OpenAI family). */
export function baseAt(origin: string, type: ProviderType): string {
  return type === 'openai' || type === 'openai-compatible' ? `${origin}/v1` : origin;
}

export interface ModelOpts {
  upstream?: string;
  tier?: number;
  contextWindow?: number;
  capabilities?: Capability[];
  tags?: string[];
  timeouts?: ModelConfig['timeouts'];
}

/** A model of the test catalog on provider `providerId`: tier 3, no capabilities or tags, the short test timeouts, unless `o` says otherwise. */
export function model(id: string, providerId: string, o: ModelOpts = {}): ModelConfig {
  const m: ModelConfig = {
    id,
    providerId,
    upstreamModel: o.upstream ?? id,
    label: `Model ${id}`,
    tier: o.tier ?? 3,
    capabilities: o.capabilities ?? [],
    tags: o.tags ?? [],
    timeouts: o.timeouts ?? TIMEOUTS,
    enabled: true,
  };
  if (o.contextWindow !== undefined) m.contextWindow = o.contextWindow;
  return m;
}

/** A catalog of these providers and models: the first model is the default, fallback Automatic unless given. */
export function catalog(
  providers: ProviderConfig[],
  models: ModelConfig[],
  fallback: FallbackSetting = { mode: 'automatic' },
): Catalog {
  const first = models[0];
  assert.ok(first);
  return { providers, models, defaultModelId: first.id, fallback };
}

/** A one-turn request. */
export function ask(prompt: string, extra: Partial<ChatRequest> = {}): ChatRequest {
  return { messages: [{ role: 'user', content: prompt }], ...extra };
}

/** What a consumer ends up with. */
export interface Consumed {
  result: AnswerResult;
  last: Extract<AnswerEvent, { type: 'done' } | { type: 'error' }>;
  events: AnswerEvent[];
  /** Streaming only: the text the member sees, built from text events (restart discards). */
  streamed: string;
  /** Streaming only: index of the fallback event, -1 when none. */
  fallbackAt: number;
}

/**
 * Consumes an answer. Streaming: every event is read and the visible text rebuilt from text
 * events; non-streaming: only the final `done`/`error` event is kept.
 */
export async function consume(
  events: AsyncIterable<AnswerEvent>,
  mode: Mode,
  onText?: (text: string) => void,
): Promise<Consumed> {
  const kept: AnswerEvent[] = [];
  let streamed = '';
  let fallbackAt = -1;
  let last: Consumed['last'] | undefined;
  let count = 0;
  for await (const e of events) {
    count++;
    assert.ok(count < 100_000, 'an answer has a bounded number of events');
    if (e.type === 'done' || e.type === 'error') {
      assert.equal(last, undefined, 'exactly one final event');
      last = e;
    }
    if (mode === 'non-streaming') continue;
    kept.push(e);
    if (e.type === 'fallback') {
      assert.equal(fallbackAt, -1, 'at most one fallback event');
      fallbackAt = kept.length - 1;
      if (e.record.mode === 'restart') streamed = '';
    }
    if (e.type === 'text') {
      streamed += e.text;
      onText?.(e.text);
    }
  }
  assert.ok(last, 'an answer ends with done or error');
  return { result: last.result, last, events: kept, streamed, fallbackAt };
}

/** Streaming checks: the text events join to the final text; fallback precedes the backup's text. */
export function checkStream(c: Consumed, mode: Mode): void {
  if (mode !== 'streaming') return;
  assert.equal(c.events.at(-1), c.last, 'the final event is last');
  assert.equal(c.streamed, c.result.text, 'text events concatenate to the final text');
  const fb = c.result.fallback;
  if (fb && c.result.status === 'complete') {
    assert.ok(c.fallbackAt >= 0, 'a fallback event was sent');
    const before = c.events.slice(0, c.fallbackAt).filter((e) => e.type === 'text');
    if (fb.mode === 'invisible') assert.equal(before.length, 0, 'nothing shown before an invisible fallback');
    else assert.ok(before.length > 0, 'partial text was shown before a takeover');
    const after = c.events.slice(c.fallbackAt + 1).filter((e) => e.type === 'text');
    // A continuation of an answer the primary had fully sent may rightly add nothing.
    if (fb.mode === 'invisible' || fb.mode === 'restart')
      assert.ok(after.length > 0, "the backup's content follows the fallback event");
  }
  if (!fb) assert.equal(c.fallbackAt, -1, 'no fallback event without a fallback record');
}

/** Runs one answer. */
export function run(
  engine: Engine,
  cat: Catalog,
  request: ChatRequest,
  mode: Mode,
  extra: Partial<AnswerInput> = {},
): Promise<Consumed> {
  return consume(engine.answer({ catalog: cat, request, takeover: 'restart', ...extra }), mode);
}

/** Attempts the simulator logged for a provider (optionally one model), after they have all ended. */
export async function settled(
  sim: Simulator,
  provider: string,
  modelName?: string,
): Promise<AttemptRecord[]> {
  const filter = modelName === undefined ? { provider } : { provider, model: modelName };
  const deadline = Date.now() + 2000;
  let list = sim.attempts(filter);
  while (list.some((a) => a.endedAt === undefined) && Date.now() < deadline) {
    await sleep(10);
    list = sim.attempts(filter);
  }
  return list;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Gaps between consecutive attempts' start times. */
export function gaps(list: AttemptRecord[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < list.length; i++) out.push((list[i]?.startedAt ?? 0) - (list[i - 1]?.startedAt ?? 0));
  return out;
}

/** Asserts no secret key appears in a text. */
export function assertNoKeys(text: string): void {
  for (const key of Object.values(KEYS)) assert.ok(!text.includes(key), `a provider key leaked: ${text}`);
}
