/**
 * A fast path for the commonest OpenAI stream chunk: one choice whose delta is text and nothing
 * else of interest. Parsing every chunk with JSON.parse builds ~10 objects to read one string;
 * it was the largest single self-time in a gateway profile (a tenth of its CPU, one request at a
 * time). The pattern below matches only a chunk that JSON.parse + the general parser would turn
 * into exactly "this text" and nothing more, anchored at both ends; anything else (other key
 * orders inside the choice, whitespace, usage, finish reasons, tool calls, refusals, errors,
 * several choices) returns undefined and takes the general path. Hand-made because it is the
 * adapter's own translation, not a general JSON parser.
 */

/** A JSON string literal: no raw control characters, only valid escapes (so JSON.parse of it cannot fail). */
const STRING = String.raw`"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"`;
/** A JSON number, as JSON's grammar has it. */
const NUMBER = String.raw`-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?`;
/** A top-level member the parser ignores: any key but the ones it reads, with a scalar value. */
const IGNORED = String.raw`"(?!(?:choices|usage|error|x_groq)")[A-Za-z0-9_]+":(?:${STRING}|${NUMBER}|null|true|false)`;
const MEMBER = `(?:${IGNORED}|"usage":null)`;
/** The one choice: index 0, a delta of text (the first chunk also names the role), no finish. */
const CHOICES = String.raw`"choices":\[\{"index":0,"delta":\{(?:"role":"assistant",)?"content":(${STRING})\},"logprobs":null,"finish_reason":null\}\]`;
const TEXT_DELTA = new RegExp(`^\\{(?:${MEMBER},)*${CHOICES}(?:,${MEMBER})*\\}$`);

/**
 * The text of a chunk that carries only a text delta ('' for an empty one), or undefined when the
 * chunk must go through the general parser.
 */
export function textDelta(data: string): string | undefined {
  // Cheap rejections first: most other chunks fail here without running the pattern.
  if (data.charCodeAt(0) !== 123 /* { */ || !data.includes('"content":"')) return undefined;
  const literal = TEXT_DELTA.exec(data)?.[1];
  if (literal === undefined) return undefined;
  return literal.includes('\\') ? (JSON.parse(literal) as string) : literal.slice(1, -1);
}
