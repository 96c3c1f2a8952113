/**
 * The deterministic healthy answer when a request asks for JSON (OpenAI's `json_object` or
 * `json_schema`, Gemini's JSON MIME type and schema, or the instruction in a system prompt): one
 * JSON value of the schema's shape, its strings made of the plain answer's words. Like the plain
 * answer it depends only on the prompt, the word count and the schema, never on the model or
 * protocol, so a backup given the same schema continues a primary's partial JSON exactly.
 */
import { expectedAnswer } from './answer.js';

/** What a request asked for: JSON, and the schema when it gave one. */
export interface JsonAsk {
  schema?: unknown;
  /**
   * Asked in a protocol's own field (OpenAI's response_format, Gemini's JSON MIME type), which
   * constrains decoding: the answer is a whole JSON value even after a prefill or a cut-off reply,
   * never the rest of one. Asked in words, a model continues what it was given.
   */
  constrained?: boolean;
}

/**
 * A JSON answer asked in the system prompt's words, as a model follows them: "respond with … JSON
 * …", with a schema on the line after "JSON Schema:" (how Understudy asks Anthropic's Messages, and
 * any backup continuing a JSON answer).
 */
export function jsonAskedInWords(system: string): JsonAsk | undefined {
  if (!/\brespond with\b[^\n]*\bJSON\b/i.test(system)) return undefined;
  const given = /JSON Schema:\s*(\{.*\})\s*$/m.exec(system)?.[1];
  if (given === undefined) return {};
  try {
    return { schema: JSON.parse(given) as unknown };
  } catch {
    return {};
  }
}

/** Nesting past this is answered with null (a recursive `$ref`, say). */
const MAX_DEPTH = 8;
/** Words per string value. */
const STRING_WORDS = 3;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The answer's JSON text for `prompt`: `{"answer": …}` without a schema, else a value of the schema. */
export function expectedJson(prompt: string, tokens: number, ask: JsonAsk): string {
  const text = expectedAnswer(prompt, tokens);
  if (!isRecord(ask.schema)) return JSON.stringify({ answer: text });
  const words = text.replace(/\.$/, '').split(' ').filter(Boolean);
  let next = 0;
  const take = (n: number): string => {
    const out: string[] = [];
    for (let i = 0; i < n && words.length > 0; i++) out.push(words[next++ % words.length] ?? '');
    return out.join(' ');
  };
  const root = ask.schema;
  /** Resolves a local `$ref` (`#/$defs/X`, `#/definitions/X`, `#`). */
  const resolve = (ref: string): unknown => {
    let at: unknown = root;
    for (const key of ref.replace(/^#\/?/, '').split('/').filter(Boolean))
      at = isRecord(at) ? at[key.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    return at;
  };
  const value = (schema: unknown, depth: number): Json => {
    if (depth > MAX_DEPTH || !isRecord(schema)) return depth > MAX_DEPTH ? null : take(STRING_WORDS);
    if (typeof schema.$ref === 'string') return value(resolve(schema.$ref), depth + 1);
    if ('const' in schema) return schema.const as Json;
    if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0] as Json;
    const alternatives = schema.anyOf ?? schema.oneOf;
    if (Array.isArray(alternatives) && alternatives.length > 0) {
      // The first alternative that is not just null: a model fills an optional field.
      const chosen = alternatives.find((a) => !(isRecord(a) && a.type === 'null')) ?? alternatives[0];
      return value(chosen, depth + 1);
    }
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const type = types.find((t) => t !== 'null') ?? types[0];
    if (type === 'object' || (type === undefined && isRecord(schema.properties))) {
      const out: { [k: string]: Json } = {};
      if (isRecord(schema.properties))
        for (const [k, v] of Object.entries(schema.properties)) out[k] = value(v, depth + 1);
      return out;
    }
    if (type === 'array') {
      const min = typeof schema.minItems === 'number' ? schema.minItems : 0;
      const max = typeof schema.maxItems === 'number' ? schema.maxItems : Number.POSITIVE_INFINITY;
      const n = Math.min(Math.max(2, min), max, 10);
      return Array.from({ length: n }, () => value(schema.items, depth + 1));
    }
    if (type === 'integer' || type === 'number') return take(1).length;
    if (type === 'boolean') return true;
    if (type === 'null') return null;
    return take(STRING_WORDS);
  };
  return JSON.stringify(value(root, 0));
}
