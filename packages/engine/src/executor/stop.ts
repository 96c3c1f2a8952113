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

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
  }

  /**
   * Takes the next piece of text: what may be shown, up to a stop sequence when one completes. As
   * a model generating one character at a time would stop: at the first sequence to be complete
   * (the one ending first; of two ending together, the longer), whatever the chunks were.
   */
  push(piece: string): StopStep {
    const text = this.#held + piece;
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
      return { text: text.slice(0, cut), stopped: true };
    }
    const hold = this.#longestOpening(text);
    this.#held = text.slice(text.length - hold);
    return { text: text.slice(0, text.length - hold), stopped: false };
  }

  /** What was held back, at the end of the stream (no stop sequence came). */
  flush(): string {
    const held = this.#held;
    this.#held = '';
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
