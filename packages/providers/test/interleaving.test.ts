/**
 * Property tests of the three stream parsers under random, protocol-legal event interleavings.
 *
 * chunking.test.ts replays the recorded streams under any byte framing, but that only ever shows
 * the parsers the few event orders the recordings happen to have. Here a generated logical answer
 * (text pieces, tool calls, finish reason, usage) is encoded as a wire stream with the freedoms
 * each protocol's documentation allows (wire-encoders.ts): Anthropic pings, unknown events,
 * thinking blocks between answer blocks, text and tool JSON cut anywhere; Gemini parts over any
 * chunks, thought parts, repeated cumulative usage; OpenAI's role chunk, index-keyed tool deltas
 * interleaved, the usage-only chunk. The stream is then re-framed and cut at arbitrary bytes and
 * decoded through the driver's SSE path. The oracle is the logical answer: its text, its calls
 * (ids, names, arguments that parse to the same JSON, `{}` for a call without parameters, which
 * Anthropic streams no argument text for and Gemini may send without `args`), one finish with the
 * reason the provider docs give for the wire word sent (wire-encoders.ts, never the adapters' own
 * mapping), its usage, and nothing malformed. In-stream error events cut in after any event must
 * surface with the reason the error fixtures record and exactly the text sent before them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProviderEvent } from '@understudy/engine';
import fc from 'fast-check';
import { chunk, cutsArb, outcome, parse, positionsArb, type ErrorShape, type Protocol } from './helpers.js';
import { blocks, reframe, styleArb } from './reframe.js';
import {
  Tape,
  answerArb,
  anthropicStream,
  googleStream,
  openaiStream,
  sse,
  type Answer,
  type WireEvent,
} from './wire-encoders.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 150);
const utf8 = new TextEncoder();

const ENCODE: Record<Protocol, (a: Answer, t: Tape) => WireEvent[]> = {
  anthropic: anthropicStream,
  google: googleStream,
  openai: openaiStream,
};

/** Events that come before any error: an Anthropic stream always opens with message_start. */
const FIRST_CUT: Record<Protocol, number> = { anthropic: 1, google: 0, openai: 0 };

/** In-stream errors as each provider sends them, and what they must surface as (error fixtures). */
const ERRORS: Record<Protocol, { block: string; want: ErrorShape }[]> = {
  anthropic: ['overloaded_error:overloaded', 'rate_limit_error:rate_limited', 'api_error:provider_error']
    .map((s) => s.split(':') as [string, string])
    .flatMap(([type, reason]) =>
      [undefined, 'error'].map((event) => ({
        block: sse(
          JSON.stringify({ type: 'error', error: { type, message: 'Something went "wrong"' } }),
          event,
        ),
        want: { reason, code: type, inStream: true },
      })),
    ),
  openai: [
    {
      block: sse(
        '{"error":{"message":"Overloaded","type":"overloaded_error","param":null,"code":null}}',
        'error',
      ),
      want: { reason: 'overloaded', code: 'overloaded_error', inStream: true },
    },
    {
      block: sse(
        '{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}',
      ),
      want: { reason: 'provider_error', code: 'server_error', inStream: true },
    },
    {
      block: sse('{"error":{"code":429,"message":"Rate limit exceeded: free-models-per-min."}}'),
      want: { reason: 'rate_limited', status: 429, inStream: true },
    },
  ],
  google: [
    {
      block: sse('{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}'),
      want: { reason: 'overloaded', status: 503, code: 'UNAVAILABLE', inStream: true },
    },
    {
      block: sse(
        '{"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}}',
      ),
      want: { reason: 'provider_error', status: 500, code: 'INTERNAL', inStream: true },
    },
    {
      block: sse(
        JSON.stringify({
          error: {
            code: 429,
            message: 'You exceeded your current quota.',
            status: 'RESOURCE_EXHAUSTED',
            details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '17s' }],
          },
        }),
      ),
      want: {
        reason: 'rate_limited',
        status: 429,
        code: 'RESOURCE_EXHAUSTED',
        retryAfterMs: 17_000,
        inStream: true,
      },
    },
  ],
};

/**
 * Choices the encoders read (a few hundred per stream), framing styles (cycled over the blocks),
 * byte cuts; every byte on its own is rarer here than in chunking.test.ts, as these streams are
 * long and feeding them a byte at a time costs ~10 ms a run.
 */
const tapeArb = fc.array(fc.nat(), { maxLength: 1000, size: 'max' });
const framingArb = fc.record({
  style: styleArb(16),
  cuts: fc.oneof({ weight: 15, arbitrary: positionsArb }, { weight: 1, arbitrary: cutsArb }),
});

type Framing = typeof framingArb extends fc.Arbitrary<infer T> ? T : never;

/** The wire events as bytes, in a random legal framing, cut at random bytes. */
function frame(events: readonly WireEvent[], { style, cuts }: Framing): Uint8Array[] {
  const text = events.map((e) => `${e.block}\n\n`).join('');
  const n = blocks(text).length;
  const cycled = Array.from({ length: n }, (_, i) => style.blocks[i % style.blocks.length]);
  const all = { eol: style.eol, blocks: cycled.filter((b) => b !== undefined) };
  return chunk(utf8.encode(reframe(text, all)), cuts);
}

/** The answer text of decoded events. */
function textOf(events: readonly ProviderEvent[]): string {
  return events.flatMap((e) => (e.type === 'text' ? [e.text] : [])).join('');
}

/** Tool calls as a consumer assembles them: by index, deltas concatenated; holes are failures. */
function calls(events: readonly ProviderEvent[]) {
  const out: { id?: string; name?: string; args: string }[] = [];
  for (const ev of events) {
    if (ev.type !== 'tool_call') continue;
    const call = (out[ev.index] ??= { args: '' });
    for (const key of ['id', 'name'] as const) {
      if (ev[key] === undefined) continue;
      assert.ok(call[key] === undefined || call[key] === ev[key], `call ${ev.index} renamed its ${key}`);
      call[key] = ev[key];
    }
    call.args += ev.argumentsDelta;
  }
  return Array.from(out, (c, i) => {
    assert.ok(c, `no tool call ${i}`);
    let args: unknown;
    assert.doesNotThrow(() => (args = JSON.parse(c.args)), `call ${i} arguments: ${c.args}`);
    return { id: c.id, name: c.name, args };
  });
}

/** Checks a decoded stream against the answer it encodes. */
function check(protocol: Protocol, a: Answer, events: readonly ProviderEvent[]): void {
  assert.deepEqual(
    events.filter((e) => e.type === 'malformed'),
    [],
  );
  assert.equal(textOf(events), a.text.join(''));
  assert.deepEqual(
    calls(events),
    a.tools.map((t, i) => ({
      // Gemini calls usually carry no id; the adapter documents `call_<index>` for them.
      id: protocol === 'google' && !t.geminiId ? `call_${i}` : t.id,
      name: t.name,
      args: JSON.parse(JSON.stringify(t.args)) as unknown,
    })),
  );
  assert.deepEqual(
    events.filter((e) => e.type === 'finish'),
    [{ type: 'finish', reason: a.finish }],
  );
  const usage = events.filter((e) => e.type === 'usage');
  assert.ok(usage.length > 0, 'no usage');
  for (const u of usage)
    assert.deepEqual(u, { type: 'usage', inputTokens: a.usage.input, outputTokens: a.usage.output });
  // Every provider sends its finish and usage after the last content.
  const end = events.findIndex((e) => e.type === 'finish' || e.type === 'usage');
  assert.ok(
    !events.slice(end).some((e) => e.type === 'text' || e.type === 'tool_call'),
    'content after the end',
  );
}

/** Runs the checks; a failure also shows the stream (before framing), which the shrunk tape only implies. */
function showing(wire: readonly WireEvent[], checks: () => void): void {
  try {
    checks();
  } catch (err) {
    const stream = wire.map((e) => e.block).join('\n\n');
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- stream ---\n${stream}`, {
      cause: err,
    });
  }
}

for (const protocol of ['anthropic', 'google', 'openai'] as const) {
  describe(`${protocol} under random interleavings`, () => {
    test('decodes to the logical answer', async () => {
      await fc.assert(
        fc.asyncProperty(answerArb, tapeArb, framingArb, async (a, tape, framing) => {
          const wire = ENCODE[protocol](a, new Tape(tape));
          const r = await parse(protocol, frame(wire, framing));
          showing(wire, () => {
            assert.equal(r.error, undefined, r.error?.message);
            check(protocol, a, r.events);
          });
        }),
        { numRuns: RUNS, includeErrorInReport: true },
      );
    });

    test('an in-stream error after any event surfaces, with exactly the text before it', async () => {
      const errors = ERRORS[protocol];
      await fc.assert(
        fc.asyncProperty(
          answerArb,
          tapeArb,
          framingArb,
          fc.nat(),
          fc.constantFrom(...errors),
          async (a, tape, framing, at, error) => {
            const events = ENCODE[protocol](a, new Tape(tape));
            // Before the last event: the terminator, or Gemini's finish chunk, ends the stream.
            const cut = FIRST_CUT[protocol] + (at % (events.length - FIRST_CUT[protocol]));
            const wire = [...events.slice(0, cut), { block: error.block, text: '' }];
            const r = outcome(await parse(protocol, frame(wire, framing)));
            showing(wire, () => {
              assert.deepEqual(r.error, error.want);
              assert.deepEqual(
                r.events.filter((e) => e.type === 'malformed'),
                [],
              );
              assert.equal(textOf(r.events), wire.map((e) => e.text).join(''));
            });
          },
        ),
        { numRuns: RUNS, includeErrorInReport: true },
      );
    });
  });
}
