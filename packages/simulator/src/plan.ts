/** Turns a parsed request into what the simulator will answer: text chunks or a tool call. */
import { CONTINUE_INSTRUCTION, countWords, expectedAnswer, remainderAfter, toChunks } from './answer.js';
import { expectedJson, jsonAskedInWords, type JsonAsk } from './json-answer.js';

/** A message reduced to what the simulator cares about. `tool` = a tool result. */
export interface ChatMessage {
  role: 'user' | 'assistant' | 'tool';
  text: string;
}

/** A chat request in protocol-neutral form. */
export interface ChatRequest {
  /** The model name as requested, `+` options included. */
  requestedModel: string;
  stream: boolean;
  /** OpenAI `stream_options.include_usage`. */
  includeUsage: boolean;
  maxTokens?: number;
  system: string;
  messages: ChatMessage[];
  /** Names of the declared tools, in order. */
  tools: string[];
  /** OpenAI parameters given that a reasoning model refuses (`temperature` other than 1, `top_p`, `stop`, `max_tokens`, `parallel_tool_calls`). */
  notForReasoning?: string[];
  /**
   * Set when the request asks for a JSON answer in its protocol's own field (with its schema, if
   * it gave one); one asked in the system prompt's words is read by planAnswer, in any protocol.
   */
  json?: JsonAsk;
}

/** The answer to send. Each chunk is one token. */
export interface AnswerPlan {
  prompt: string;
  prefill: boolean;
  continuation: boolean;
  inputTokens: number;
  /** Text words, or the tool call's argument JSON pieces. */
  chunks: string[];
  /** `refusal`: the model declines to answer (a 200 answer whose text is the refusal). */
  finish: 'stop' | 'length' | 'tool' | 'refusal';
  /** Set when the answer is a tool call. */
  tool?: { name: string; args: string };
}

// Streamed in two pieces so clients must join argument deltas.
const TOOL_ARGS = ['{"city":', '"Paris"}'];

/** What a model that declines says (the `refusal` fault), in each protocol's own way. */
export const REFUSAL_TEXT = "I'm sorry, but I can't help with that request.";

/** The plan of a model that declines to answer `plan`'s prompt. */
export function refusedPlan(plan: AnswerPlan): AnswerPlan {
  const { tool: _tool, ...rest } = plan;
  return { ...rest, chunks: toChunks(REFUSAL_TEXT), finish: 'refusal' };
}

/** The text of the last user message at or before `end` that is not a continuation instruction. */
function promptBefore(messages: ChatMessage[], end: number): string {
  for (let i = end; i >= 0; i--) {
    const m = messages[i];
    if (m?.role === 'user' && !m.text.startsWith(CONTINUE_INSTRUCTION)) return m.text;
  }
  return '';
}

/** Decides the answer for `req`, given the answer length in words. */
export function planAnswer(req: ChatRequest, tokens: number): AnswerPlan {
  const msgs = req.messages;
  const lastIndex = msgs.length - 1;
  const last = msgs[lastIndex];
  const before = msgs[lastIndex - 1];
  const inputTokens = countWords(req.system) + msgs.reduce((n, m) => n + countWords(m.text), 0);
  let prompt: string;
  let given: string | undefined;
  let prefill = false;
  let continuation = false;
  if (last?.role === 'assistant') {
    prefill = true;
    given = last.text;
    prompt = promptBefore(msgs, lastIndex - 1);
  } else if (
    last?.role === 'user' &&
    last.text.startsWith(CONTINUE_INSTRUCTION) &&
    before?.role === 'assistant'
  ) {
    continuation = true;
    given = before.text;
    prompt = promptBefore(msgs, lastIndex - 2);
  } else {
    prompt = promptBefore(msgs, lastIndex);
  }
  const base = { prompt, prefill, continuation, inputTokens };
  const toolName = req.tools[0];
  if (toolName !== undefined && last?.role === 'user' && !continuation && /\bweather\b/i.test(last.text)) {
    return {
      ...base,
      chunks: [...TOOL_ARGS],
      finish: 'tool',
      tool: { name: toolName, args: TOOL_ARGS.join('') },
    };
  }
  const json = req.json ?? jsonAskedInWords(req.system);
  const expected = json ? expectedJson(prompt, tokens, json) : expectedAnswer(prompt, tokens);
  // A constrained decoder writes a whole JSON value whatever it was given before.
  const constrained = json?.constrained === true;
  const chunks = toChunks(given === undefined || constrained ? expected : remainderAfter(expected, given));
  const cap = req.maxTokens;
  if (cap !== undefined && chunks.length > cap)
    return { ...base, chunks: chunks.slice(0, cap), finish: 'length' };
  return { ...base, chunks, finish: 'stop' };
}
