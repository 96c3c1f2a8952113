/**
 * Stop sequences kept by the engine itself, whichever model answers: a backup whose provider
 * refuses them (OpenAI's reasoning models) or ignores them (some compatible servers) must not run
 * past where the caller asked the answer to end. A provider that keeps them sends none, so this
 * only ever holds back a few characters that might begin one.
 */

/** Text to pass on now, and whether a stop sequence ended the answer there. */
export interface StopStep {
  text: string;
  stopped: boolean;
}

/** Scans streamed text for the first of some stop sequences, holding back what may begin one. */
export class StopScanner {
  readonly #stops: readonly string[];
  #held = '';
  /** How many leading characters of `#held` were passed on already (the end of a continued answer). */
  #shown = 0;

  /**
   * `before`: the text already shown that this answer continues (a backup taking over a cut one),
   * so that a stop sequence begun there and completed by the continuation still ends the answer.
   */
  constructor(stops: readonly string[], before = '') {
    this.#stops = stops.filter((s) => s.length > 0);
    const k = this.#longestOpening(before);
    this.#held = before.slice(before.length - k);
    this.#shown = k;
  }

  /**
   * Takes the next piece of text: what may be shown, up to a stop sequence when one completes. As
   * a model generating one character at a time would stop: at the first sequence to be complete
   * (the one ending first; of two ending together, the longer), whatever the chunks were.
   */
  push(piece: string): StopStep {
    const text = this.#held + piece;
    const shown = this.#shown;
    let cut = -1;
    let end = Infinity;
    for (const stop of this.#stops) {
      const i = text.indexOf(stop);
      if (i < 0) continue;
      const e = i + stop.length;
      if (e < end || (e === end && i < cut)) [cut, end] = [i, e];
    }
    if (cut >= 0) {
      this.#held = '';
      this.#shown = 0;
      // Begun in text shown before: nothing more can be shown.
      return { text: cut > shown ? text.slice(shown, cut) : '', stopped: true };
    }
    const upTo = text.length - this.#longestOpening(text);
    this.#held = text.slice(upTo);
    this.#shown = Math.max(0, shown - upTo);
    return { text: upTo > shown ? text.slice(shown, upTo) : '', stopped: false };
  }

  /** What was held back and not shown, at the end of the stream (no stop sequence came). */
  flush(): string {
    const held = this.#held.slice(this.#shown);
    this.#held = '';
    this.#shown = 0;
    return held;
  }

  /** The length of the longest end of `text` that a stop sequence begins with. */
  #longestOpening(text: string): number {
    let best = 0;
    for (const stop of this.#stops) {
      for (let k = Math.min(stop.length - 1, text.length); k > best; k--) {
        if (text.endsWith(stop.slice(0, k))) {
          best = k;
          break;
        }
      }
    }
    return best;
  }
}
