/**
 * Keeps a trimmed prefill seamless. The engine holds the prefill as it was (say "Dear Sam, ")
 * and appends what we yield. Anthropic only accepts "Dear Sam," and its model usually begins by
 * re-creating the trimmed whitespace (" Thanks…"). Yielding that as-is would double the space, so
 * the choice made here: output is yielded as a continuation of the ORIGINAL prefill — the
 * model's leading characters that re-create the trimmed whitespace are dropped, character by
 * character, until the first one that differs. Whitespace the model adds beyond what was trimmed
 * is kept; if the model starts with a word instead, nothing is dropped and the original
 * whitespace (already held by the engine) stays between prefill and continuation.
 */
export class PrefillJoiner {
  #owed: string;

  constructor(trimmed: string) {
    this.#owed = trimmed;
  }

  /** The part of `text` to yield; may be empty while the model re-creates owed whitespace. */
  take(text: string): string {
    if (this.#owed === '') return text;
    let i = 0;
    while (i < text.length && i < this.#owed.length && text[i] === this.#owed[i]) i++;
    // Matching stops at the first differing character or when the owed whitespace is paid.
    this.#owed = i === text.length ? this.#owed.slice(i) : '';
    return text.slice(i);
  }
}
