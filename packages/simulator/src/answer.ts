/**
 * The deterministic healthy answer. It depends only on the prompt and a word count, never on the
 * model or protocol, so a backup can continue a primary's partial answer and the joined text is
 * exactly `expectedAnswer(prompt)`.
 */

/** The user message a client sends to have a reply continued after it was cut off. */
export const CONTINUE_INSTRUCTION =
  'Your previous reply was cut off. Continue it exactly from where it stopped, without repeating anything.';

/** Default number of words (= tokens = stream chunks) in an answer. */
export const DEFAULT_ANSWER_TOKENS = 24;

// Short, distinct, ASCII-only words: easy to read in test failures and never split by clients.
const WORDS = [
  'amber', 'backup', 'bridge', 'canvas', 'cedar', 'cloud', 'copper', 'delta', 'echo', 'ember',
  'falcon', 'field', 'garden', 'glacier', 'harbor', 'hazel', 'island', 'ivory', 'jasper', 'kernel',
  'lantern', 'linen', 'maple', 'meadow', 'nectar', 'north', 'ocean', 'orbit', 'pebble', 'pine',
  'quartz', 'quiet', 'raven', 'river', 'saffron', 'signal', 'summit', 'timber', 'tulip', 'umber',
  'valley', 'velvet', 'willow', 'window', 'yarrow', 'zenith', 'anchor', 'beacon', 'cobalt', 'drift',
  'fable', 'grove', 'hollow', 'indigo', 'juniper', 'lagoon', 'marble', 'nimbus', 'olive', 'prairie',
  'ripple', 'spruce', 'thistle', 'walnut',
] as const; // prettier-ignore

/** FNV-1a: a stable 32-bit hash, so the same prompt gives the same answer in every process. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: tiny seeded PRNG; answers for N and N+k words share their first N-1 words. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The healthy answer to `prompt`: `tokens` words, first capitalised, ending with a period. */
export function expectedAnswer(prompt: string, tokens: number = DEFAULT_ANSWER_TOKENS): string {
  const count = Math.max(0, Math.floor(tokens));
  const next = prng(hash(prompt));
  const words: string[] = [];
  for (let i = 0; i < count; i++) words.push(WORDS[Math.floor(next() * WORDS.length)] ?? 'echo');
  if (words.length === 0) return '';
  const first = words[0] ?? '';
  words[0] = first.charAt(0).toUpperCase() + first.slice(1);
  return `${words.join(' ')}.`;
}

/** Splits text into stream chunks of one word each, whitespace kept so chunks join back exactly. */
export function toChunks(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? [];
}

/** Whitespace-separated words: the simulator's token count. */
export function countWords(text: string): number {
  return text.split(/\s+/).filter((w) => w.length > 0).length;
}

/**
 * What is left of the expected answer after an assistant text already given (prefill or a
 * cut-off reply). Not a prefix: continue with the words after as many words as were given.
 */
export function remainderAfter(expected: string, given: string): string {
  if (expected.startsWith(given)) return expected.slice(given.length);
  const skip = countWords(given);
  const rest = toChunks(expected).slice(skip).join('').trimStart();
  if (rest.length === 0) return '';
  return /\s$/.test(given) || given.length === 0 ? rest : ` ${rest}`;
}
