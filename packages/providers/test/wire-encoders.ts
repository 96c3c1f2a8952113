/**
 * Logical answers and their wire streams, for interleaving.test.ts. A `Tape` of generated numbers
 * makes every choice a protocol leaves open (where text is cut, which block or chunk carries what,
 * where pings and thoughts go, how the JSON is spelled), so fast-check shrinks a failure toward
 * the plainest stream: an exhausted tape always answers 0, the plain choice. Every wire event
 * records the answer text it carries, so an error injected after any event has an exact expected
 * text. The shapes follow the providers' documented formats and the recorded fixtures.
 */
import type { FinishReason } from '@understudy/engine';
import fc, { type JsonValue } from 'fast-check';

/** A tool call of the answer (`args` `{}`: no parameters). `geminiId`: whether Gemini sends its id. */
export interface ToolCall {
  id: string;
  name: string;
  args: Record<string, JsonValue>;
  geminiId: boolean;
}

/** What the model answered, independent of any wire format. */
export interface Answer {
  text: string[];
  tools: ToolCall[];
  finish: FinishReason;
  usage: { input: number; output: number };
}

/** One SSE event of an encoded stream (without its blank line) and the answer text it carries. */
export interface WireEvent {
  block: string;
  text: string;
}

/** Text that stresses JSON and SSE: quotes, backslashes, line breaks, astral and separator characters. */
const pieceArb = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom(
    '',
    '"',
    '\\',
    '\n',
    '\r\n',
    'héllo',
    ' 世界',
    '🎉',
    '\u2028',
    '\t\u0000',
    'data: [DONE]',
    '"}',
  ),
);

const toolArb = fc.record({
  id: fc.stringMatching(/^[A-Za-z0-9_]{1,24}$/),
  name: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/),
  // `{}` (a tool without parameters) about one call in three.
  args: fc.oneof(
    { weight: 1, arbitrary: fc.constant({}) },
    {
      weight: 4,
      arbitrary: fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), {
        maxKeys: 4,
      }),
    },
  ),
  geminiId: fc.boolean(),
});

/** Answers; a finish after tool calls is the tool-call one or a cut (what providers send). */
export const answerArb: fc.Arbitrary<Answer> = fc
  .record({
    text: fc.array(pieceArb, { maxLength: 8 }),
    tools: fc.uniqueArray(toolArb, { maxLength: 4, selector: (t) => t.id }),
    finish: fc.nat(2),
    usage: fc.record({ input: fc.nat(300_000), output: fc.nat(100_000) }),
  })
  .map(({ finish, ...a }) => {
    const options: FinishReason[] = a.tools.length
      ? ['tool_calls', 'length']
      : ['stop', 'length', 'content_filter'];
    return { ...a, finish: options[finish % options.length] ?? 'stop' };
  });

/** Generated choices; each read answers 0 once they run out. */
export class Tape {
  #at = 0;
  constructor(private readonly values: readonly number[]) {}

  /** A choice in [0, n). */
  pick(n: number): number {
    const v = this.values[this.#at++] ?? 0;
    return n > 1 ? v % n : 0;
  }

  /** True about one time in n (never once the tape has run out). */
  oneIn(n: number): boolean {
    return this.pick(n) === 1;
  }

  /** One of `options` (the first once the tape has run out). */
  of<T>(options: readonly [T, ...T[]]): T {
    return options[this.pick(options.length)] ?? options[0];
  }

  /** `s` cut at code-point boundaries (a provider never splits a character), pieces maybe empty. */
  cut(s: string): string[] {
    const points = [...s];
    const at = Array.from({ length: this.pick(5) }, () => this.pick(points.length + 1)).sort((a, b) => a - b);
    return [...at, points.length].map((end, i) => points.slice(i ? at[i - 1] : 0, end).join(''));
  }

  /** The sequences merged in a random order that keeps each one's own order. */
  interleave<T>(tracks: readonly (readonly T[])[]): T[] {
    const rest = tracks.map((t) => [...t]).filter((t) => t.length > 0);
    const out: T[] = [];
    while (rest.length > 0) {
      const i = this.pick(rest.length);
      const track = rest[i] ?? [];
      out.push(...track.splice(0, 1));
      if (track.length === 0) rest.splice(i, 1);
    }
    return out;
  }

  /** `items` with a filler (from `make`) before some of them and maybe at the end. */
  sprinkle<T>(items: readonly T[], n: number, make: () => T): T[] {
    const out: T[] = [];
    for (const item of [...items, undefined]) {
      if (this.oneIn(n)) out.push(make());
      if (item !== undefined) out.push(item);
    }
    return out;
  }
}

/**
 * Wire words per canonical finish reason, written from the providers' documentation (Anthropic
 * `stop_reason`, OpenAI `finish_reason`, Gemini `finishReason`, which says STOP after calls too).
 */
export const FINISH_WORDS: Record<
  'anthropic' | 'openai' | 'google',
  Record<FinishReason, [string, ...string[]]>
> = {
  anthropic: {
    stop: ['end_turn', 'stop_sequence'],
    length: ['max_tokens', 'model_context_window_exceeded'],
    tool_calls: ['tool_use'],
    content_filter: ['refusal'],
  },
  openai: {
    stop: ['stop'],
    length: ['length'],
    tool_calls: ['tool_calls', 'function_call'],
    content_filter: ['content_filter'],
  },
  google: {
    stop: ['STOP'],
    length: ['MAX_TOKENS'],
    tool_calls: ['STOP'],
    content_filter: ['SAFETY', 'RECITATION', 'PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII'],
  },
};

/** JSON as Python servers write it (`", "` and `": "`), which providers send too. */
function spaced(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(spaced).join(', ')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}: ${spaced(x)}`)
      .join(', ')}}`;
  return JSON.stringify(v);
}

/** One of the legal spellings of a JSON value: compact or spaced, raw or `\u`-escaped non-ASCII. */
export function spell(v: unknown, style: number): string {
  const s = style & 1 ? spaced(v) : JSON.stringify(v);
  return style & 2
    ? s.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : s;
}

/** An SSE block: an optional `event:` line and one `data:` line. */
export function sse(data: string, event?: string): string {
  return `${event === undefined ? '' : `event: ${event}\n`}data: ${data}`;
}

type Obj = Record<string, unknown>;

/** An Anthropic Messages stream: blocks in any order, thinking blocks, pings and unknown events. */
export function anthropicStream(a: Answer, t: Tape): WireEvent[] {
  const style = t.pick(4);
  const ev = (data: Obj, text = ''): WireEvent => ({
    block: sse(spell(data, style), t.oneIn(3) ? undefined : String(data.type)),
    text,
  });
  type Part = { data: Obj; text?: string };
  // A content block is its content_block_start payload then its deltas' (index and stop come later).
  const textBlocks: Part[][] = [];
  for (const fragment of a.text.flatMap((p) => t.cut(p))) {
    const last = textBlocks[textBlocks.length - 1];
    if (last && !t.oneIn(3)) last.push({ data: { type: 'text_delta', text: fragment }, text: fragment });
    else if (t.oneIn(3)) textBlocks.push([{ data: { type: 'text', text: fragment }, text: fragment }]);
    else
      textBlocks.push([
        { data: { type: 'text', text: '' } },
        { data: { type: 'text_delta', text: fragment }, text: fragment },
      ]);
    if (t.oneIn(8))
      textBlocks[textBlocks.length - 1]?.push({
        data: { type: 'citations_delta', citation: { cited_text: 'not the answer' } },
      });
  }
  // A call without parameters streams no argument text: no delta, or an empty one.
  const toolBlocks = a.tools.map((tool): Part[] => [
    { data: { type: 'tool_use', id: tool.id, name: tool.name, input: {} } },
    ...(t.oneIn(2) ? [{ data: { type: 'input_json_delta', partial_json: '' } }] : []),
    ...(Object.keys(tool.args).length === 0 ? [] : t.cut(spell(tool.args, style))).map((json) => ({
      data: { type: 'input_json_delta', partial_json: json },
    })),
  ]);
  const thinking = (): Part[] =>
    t.oneIn(3)
      ? [{ data: { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix' } }]
      : [
          { data: { type: 'thinking', thinking: '', signature: '' } },
          ...t.cut('not the answer: "x"\n').map((s) => ({ data: { type: 'thinking_delta', thinking: s } })),
          { data: { type: 'signature_delta', signature: 'EqQBCgIYAhIM1gbcDa9' } },
        ];
  const blocks = t.sprinkle(t.interleave<Part[]>([textBlocks, toolBlocks]), 4, thinking);
  const body = blocks.flatMap(([start, ...deltas], index) => [
    ev({ type: 'content_block_start', index, content_block: start?.data }, start?.text),
    ...deltas.map((d) => ev({ type: 'content_block_delta', index, delta: d.data }, d.text)),
    ev({ type: 'content_block_stop', index }),
  ]);
  const { input, output } = a.usage;
  const created = t.oneIn(2) ? t.pick(input + 1) : 0;
  const read = t.oneIn(2) ? t.pick(input - created + 1) : 0;
  const bare = t.oneIn(3); // older API versions and proxies leave zero cache counts out
  const counts = {
    input_tokens: input - created - read,
    ...((created > 0 || !bare) && { cache_creation_input_tokens: created }),
    ...((read > 0 || !bare) && { cache_read_input_tokens: read }),
  };
  const stop = t.of(FINISH_WORDS.anthropic[a.finish]);
  const start = {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    content: [],
    model: 'claude-x',
    stop_reason: null,
    stop_sequence: null,
    usage: { ...counts, output_tokens: 1 },
  };
  const end = ev({
    type: 'message_delta',
    delta: { stop_reason: stop, stop_sequence: stop === 'stop_sequence' ? '###' : null },
    // Newer API versions repeat the (cumulative) input counts here.
    usage: t.oneIn(2) ? { ...counts, output_tokens: output } : { output_tokens: output },
  });
  const filler = () =>
    t.oneIn(3) ? ev({ type: 'some_future_event', note: 'not the answer' }) : ev({ type: 'ping' });
  return [
    ev({ type: 'message_start', message: start }),
    ...t.sprinkle([...body, end], 5, filler),
    ev({ type: 'message_stop' }),
  ];
}

/** A Gemini streamGenerateContent (`alt=sse`) stream: parts over any number of chunks. */
export function googleStream(a: Answer, t: Tape): WireEvent[] {
  const style = t.pick(4);
  type Part = { part: Obj; text: string };
  const texts = a.text.flatMap((p) => t.cut(p)).map((text): Part => ({ part: { text }, text }));
  const calls = a.tools.map((tool): Part => ({
    part: {
      functionCall: {
        ...(tool.geminiId && { id: tool.id }),
        name: tool.name,
        // A call without parameters has `args: {}` or no args at all.
        ...((Object.keys(tool.args).length > 0 || !t.oneIn(2)) && { args: tool.args }),
      },
      ...(t.oneIn(3) && { thoughtSignature: 'CiQBVKhc7vB' }),
    },
    text: '',
  }));
  const thinking = (): Part => ({
    part: { text: t.of(['not the answer', '"\\\n']), thought: true },
    text: '',
  });
  const parts = t.sprinkle(t.interleave([texts, calls]), 4, thinking);
  const chunks: Part[][] = [[]];
  for (const p of parts) {
    chunks[chunks.length - 1]?.push(p);
    if (t.oneIn(2)) chunks.push([]);
  }
  const { input, output } = a.usage;
  const thoughts = parts.some((p) => p.part.thought) ? t.pick(output + 1) : 0;
  // Counts so far: cumulative, so never decreasing, and the last chunk has the totals.
  let shown = 0;
  let thought = 0;
  return chunks.map((chunk, i) => {
    const last = i === chunks.length - 1;
    shown = last ? output - thoughts : Math.max(shown, t.pick(output - thoughts + 1));
    thought = last ? thoughts : Math.max(thought, t.pick(thoughts + 1));
    const usage = {
      promptTokenCount: input,
      ...((shown > 0 || t.oneIn(2)) && { candidatesTokenCount: shown }),
      ...(thoughts > 0 && { thoughtsTokenCount: thought }),
      totalTokenCount: input + shown + thought,
    };
    const content = { parts: chunk.map((p) => p.part), role: 'model' };
    const candidate = {
      // The finish chunk may carry no content at all.
      ...((chunk.length > 0 || !t.oneIn(2)) && { content }),
      index: 0,
      ...(last && { finishReason: t.of(FINISH_WORDS.google[a.finish]) }),
    };
    const root = {
      candidates: [candidate],
      ...((last || !t.oneIn(4)) && { usageMetadata: usage }),
      modelVersion: 'gemini-2.5-flash',
      responseId: 'r1',
    };
    return { block: sse(spell(root, style)), text: chunk.map((p) => p.text).join('') };
  });
}

/** An OpenAI Chat Completions stream: role chunk, index-keyed tool deltas, usage-only chunk, [DONE]. */
export function openaiStream(a: Answer, t: Tape): WireEvent[] {
  const style = t.pick(4);
  // OpenAI's own envelope, or a leaner one with other key order as compatible servers send (which
  // the adapter's text fast path does not match, so both of its paths are exercised).
  const lean = t.oneIn(3);
  const chunk = (choices: Obj[], extra: Obj = {}): string =>
    spell(
      {
        id: 'chatcmpl-1',
        object: 'chat.completion.chunk',
        created: 1730000000,
        model: 'gpt-4o-mini',
        ...(!lean && { system_fingerprint: 'fp_1' }),
        choices,
        ...(!lean && { usage: null }),
        ...extra,
      },
      style,
    );
  const choice = (delta: Obj, finish: string | null = null): Obj =>
    lean
      ? { delta, index: 0, finish_reason: finish }
      : { index: 0, delta, logprobs: null, finish_reason: finish };
  type Delta = { delta: Obj; text: string };
  const texts = a.text
    .flatMap((p) => t.cut(p))
    .map((content): Delta => ({ delta: { content }, text: content }));
  // A call without parameters sends "{}", like any other arguments.
  const tools = a.tools.map((tool, index): Delta[] => {
    const [first = '', ...rest] = t.oneIn(2)
      ? ['', ...t.cut(spell(tool.args, style))]
      : t.cut(spell(tool.args, style));
    const call = { index, id: tool.id, type: 'function', function: { name: tool.name, arguments: first } };
    return [call, ...rest.map((args) => ({ index, function: { arguments: args } }))].map((tc) => ({
      delta: { ...(t.oneIn(3) && { content: null }), tool_calls: [tc] },
      text: '',
    }));
  });
  const deltas = t.interleave([texts, ...tools]);
  const role = { role: 'assistant' };
  const [first, ...rest] = deltas;
  const opening =
    first && !t.oneIn(2)
      ? [{ delta: { ...role, ...first.delta }, text: first.text }, ...rest]
      : [{ delta: { ...role, content: '', ...(t.oneIn(2) && { refusal: null }) }, text: '' }, ...deltas];
  const usage = {
    prompt_tokens: a.usage.input,
    completion_tokens: a.usage.output,
    total_tokens: a.usage.input + a.usage.output,
  };
  const filter = {
    block: sse(
      spell(
        {
          choices: [],
          created: 0,
          id: '',
          model: '',
          object: '',
          prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }],
        },
        style,
      ),
    ),
    text: '',
  };
  const stop = t.of(FINISH_WORDS.openai[a.finish]);
  const together = t.oneIn(4);
  return [
    ...(t.oneIn(4) ? [filter] : []),
    // The finish reason comes on a chunk of its own (OpenAI) or with the last delta (some servers).
    ...opening.map((d, i) => {
      const finish = i === opening.length - 1 && together ? stop : null;
      return { block: sse(chunk([choice(d.delta, finish)])), text: d.text };
    }),
    ...(together ? [] : [{ block: sse(chunk([choice({}, stop)])), text: '' }]),
    { block: sse(chunk([], { usage })), text: '' },
    { block: sse('[DONE]'), text: '' },
  ];
}
