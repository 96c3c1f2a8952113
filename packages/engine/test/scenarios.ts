/**
 * Generated failure scenarios for the executor's property tests: what one upstream call does (a
 * `Behavior`), the scenario around it (the primary's first call and quick retry, the backup, the
 * Fallback setting, the backup's window and prefill, the takeover), each behavior as the fake
 * provider's script, and the catalog a scenario runs on.
 */
import fc from 'fast-check';
import type { FailureDetails } from '../src/errors.js';
import type { Catalog } from '../src/types/catalog.js';
import { model, provider, type Step } from './fakes.js';

/** Events that carry nothing the member sees: they must neither count as content nor break the answer. */
export type Noise = 'malformed' | 'empty';

/** What one upstream call does. */
export type Behavior =
  /** Answers (possibly nothing) and finishes; `thenHang`: never closes after its finish reason. */
  | { kind: 'ok'; words: string[]; tool: boolean; noise: Noise[]; usage: boolean; thenHang: boolean }
  /** Fails before any content: at the HTTP level, or as an error event once the stream is open. */
  | { kind: 'fail'; failure: FailureDetails; afterOpen: boolean; noise: Noise[] }
  /** Never sends headers (connect timeout) or, once open, never sends content (first-token timeout). */
  | { kind: 'silent'; afterOpen: boolean; noise: Noise[] }
  /** Opens and ends without content or a finish reason. */
  | { kind: 'empty'; noise: Noise[] }
  /** Sends content (words, a tool call's start, or both), then breaks: an error event, a stall, or an end without its finish reason. */
  | {
      kind: 'cut';
      words: string[];
      tool: boolean;
      end: { type: 'fail'; failure: FailureDetails } | { type: 'stall' | 'end' };
    };

export interface Scenario {
  primary: Behavior;
  retry: Behavior;
  backup: Behavior;
  fallback: 'automatic' | 'specific' | 'none';
  /** The backup's context window (the primary's is 8000); undefined: unknown. */
  backupWindow: number | undefined;
  backupPrefill: boolean;
  takeover: 'restart' | 'instruct';
}

/** The primary's context window; the backup's is larger, smaller or unknown. */
export const PRIMARY_WINDOW = 8000;
/** Every timeout of both models: short, as silence is scripted as a hang that only a timeout ends. */
const TIMEOUT_MS = 25;

const failureArb: fc.Arbitrary<FailureDetails> = fc.oneof(
  fc.boolean().map((b): FailureDetails => ({ reason: 'unreachable', message: 'refused', beforeResponse: b })),
  fc
    .constantFrom(undefined, 2, 5_000)
    .map((ra): FailureDetails => ({ reason: 'rate_limited', message: '429', status: 429, retryAfterMs: ra })),
  fc
    .constantFrom(503, 529)
    .map((status): FailureDetails => ({ reason: 'overloaded', message: 'busy', status })),
  fc
    .constantFrom(500, 502, 503, 504)
    .map((status): FailureDetails => ({ reason: 'provider_error', message: 'oops', status })),
  fc
    .constantFrom(401, 402, 403, 404)
    .map((status): FailureDetails => ({ reason: 'provider_misconfigured', message: 'key', status })),
  fc.constant<FailureDetails>({
    reason: 'context_too_long',
    message: 'too long',
    status: 400,
    code: 'context_length_exceeded',
  }),
  fc.constant<FailureDetails>({ reason: 'bad_request', message: 'bad parameter', status: 400 }),
  fc.constant<FailureDetails>({ reason: 'content_filtered', message: 'refused by policy', status: 400 }),
);
const wordsArb = (min: number) =>
  fc.array(fc.constantFrom('Hello ', 'there, ', 'friend. ', 'ok '), { minLength: min, maxLength: 3 });
const noiseArb = fc.array(fc.constantFrom<Noise>('malformed', 'empty'), { maxLength: 2 });

const behaviorArb: fc.Arbitrary<Behavior> = fc.oneof(
  fc.record({
    kind: fc.constant('ok' as const),
    words: wordsArb(0),
    tool: fc.boolean(),
    noise: noiseArb,
    usage: fc.boolean(),
    thenHang: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('fail' as const),
    failure: failureArb,
    afterOpen: fc.boolean(),
    noise: noiseArb,
  }),
  fc.record({ kind: fc.constant('silent' as const), afterOpen: fc.boolean(), noise: noiseArb }),
  fc.record({ kind: fc.constant('empty' as const), noise: noiseArb }),
  fc
    .record({
      kind: fc.constant('cut' as const),
      words: wordsArb(0),
      tool: fc.boolean(),
      end: fc.oneof(
        fc.record({ type: fc.constant('fail' as const), failure: failureArb }),
        fc.record({ type: fc.constantFrom('stall' as const, 'end' as const) }),
      ),
    })
    .filter((b) => b.words.length > 0 || b.tool),
);

export const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  primary: behaviorArb,
  retry: behaviorArb,
  backup: behaviorArb,
  fallback: fc.constantFrom('automatic' as const, 'specific' as const, 'none' as const),
  backupWindow: fc.constantFrom(undefined, 4000, 16000),
  backupPrefill: fc.boolean(),
  takeover: fc.constantFrom('restart' as const, 'instruct' as const),
});

/** The noise as scripted steps. */
const noiseSteps = (noise: Noise[]): Step[] =>
  noise.map((n) =>
    n === 'malformed' ? { type: 'malformed', detail: 'bad json' } : { type: 'text', text: '' },
  );

/** A behavior as the fake provider's script. */
export function script(b: Behavior): Step[] {
  const open: Step = { type: 'open' };
  const text = (words: string[]): Step[] => words.map((w) => ({ type: 'text', text: w }));
  const tool = (yes: boolean): Step[] =>
    yes ? [{ type: 'tool_call', index: 0, id: 'call_1', name: 'lookup', argumentsDelta: '{"q":' }] : [];
  switch (b.kind) {
    case 'ok':
      return [
        open,
        ...noiseSteps(b.noise),
        ...text(b.words),
        ...tool(b.tool),
        ...(b.usage ? [{ type: 'usage', inputTokens: 7, outputTokens: b.words.length } as Step] : []),
        { type: 'finish', reason: 'stop' },
        ...(b.thenHang ? [{ type: 'hang' } as Step] : []),
      ];
    case 'fail':
      return b.afterOpen
        ? [open, ...noiseSteps(b.noise), { type: 'fail', failure: { ...b.failure, inStream: true } }]
        : [{ type: 'fail', failure: b.failure }];
    case 'silent':
      return b.afterOpen ? [open, ...noiseSteps(b.noise), { type: 'hang' }] : [{ type: 'hang' }];
    case 'empty':
      return [open, ...noiseSteps(b.noise)];
    case 'cut':
      return [
        open,
        ...text(b.words),
        ...tool(b.tool),
        ...(b.end.type === 'fail'
          ? [{ type: 'fail', failure: { ...b.end.failure, inStream: true } } as Step]
          : b.end.type === 'stall'
            ? [{ type: 'hang' } as Step]
            : []),
      ];
  }
}

/** The catalog a scenario runs on: primary a1 (window 8000) on provider a, backup b1 on provider b. */
export function catalogFor(s: Scenario): Catalog {
  const timeouts = { connectMs: TIMEOUT_MS, firstTokenMs: TIMEOUT_MS, stallMs: TIMEOUT_MS };
  return {
    providers: [provider('a'), provider('b')],
    models: [
      model('a1', 'a', 3, { contextWindow: PRIMARY_WINDOW, capabilities: [], timeouts }),
      model('b1', 'b', 3, {
        ...(s.backupWindow !== undefined && { contextWindow: s.backupWindow }),
        capabilities: s.backupPrefill ? ['prefill'] : [],
        timeouts,
      }),
    ],
    defaultModelId: 'a1',
    fallback: s.fallback === 'specific' ? { mode: 'specific', modelId: 'b1' } : { mode: s.fallback },
  };
}
