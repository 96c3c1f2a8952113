/**
 * A benchmark goal, defined once: what it compares, the line, how it reads in RESULTS.md, and how
 * that text reads back. A run judges its goals with `judge`; bench/history.ts reads committed runs'
 * goal texts with `parseGoal` and judges them with the same `judge`, so the two cannot disagree.
 */
import { fmt, unfmt } from './stats.js';

/** At most or at least the line. */
export type Op = '≤' | '≥';

/** What a goal compares. Kinds whose figure is not a table cell carry it (`measure`). */
export type Goal =
  /** A ratio column: "≤ 2× limit" on understudy ÷ limit, "≥ 10× peer" on understudy ÷ peer. */
  | { kind: 'ratio'; op: Op; line: number; to: 'limit' | 'peer' }
  /** Understudy against itself with a healthy primary: "≥ 0.9× own healthy (0.87×)". */
  | { kind: 'own healthy'; op: Op; line: number; measure: number }
  /** Failed requests, at most the line: "0 errors (3)". */
  | { kind: 'errors'; line: number; measure: number }
  /** Understudy's time, at most the line; the worst round is shown beside it: "≤ 1050 ms (max 1027)". */
  | { kind: 'ms'; line: number; max: number }
  /** Understudy's growth in percent, at most the line: "flat: ≤ +10 %". */
  | { kind: 'flat'; line: number };

/** The row's figures a goal may be judged on (its understudy cell and its two ratio cells). */
export interface Figures {
  understudy?: number | undefined;
  overLimit?: number | undefined;
  overPeer?: number | undefined;
}

/** The goal as the table shows it, with this run's numbers. */
export function goalText(g: Goal): string {
  switch (g.kind) {
    case 'ratio':
      return `${g.op} ${g.line}× ${g.to}`;
    case 'own healthy':
      return `${g.op} ${g.line}× own healthy (${fmt(g.measure, 2)}×)`;
    case 'errors':
      return `${g.line} errors (${g.measure})`;
    case 'ms':
      return `≤ ${g.line} ms (max ${fmt(g.max, 0)})`;
    case 'flat':
      return `flat: ≤ +${g.line} %`;
  }
}

/** The goal without this run's numbers: the same in every run. */
export function goalKey(g: Goal): string {
  switch (g.kind) {
    case 'own healthy':
      return `${g.op} ${g.line}× own healthy`;
    case 'errors':
      return `${g.line} errors`;
    case 'ms':
      return `≤ ${g.line} ms`;
    default:
      return goalText(g);
  }
}

/** The goal a table's text shows (`goalText` read back); undefined for a text no goal writes. */
export function parseGoal(text: string): Goal | undefined {
  let m = /^([≤≥]) ([\d.]+)× (limit|peer)$/.exec(text);
  if (m) return { kind: 'ratio', op: m[1] as Op, line: unfmt(m[2]), to: m[3] as 'limit' | 'peer' };
  m = /^([≤≥]) ([\d.]+)× own healthy \(([\d.]+|n\/a)×\)$/.exec(text);
  if (m) return { kind: 'own healthy', op: m[1] as Op, line: unfmt(m[2]), measure: unfmt(m[3]) };
  m = /^(\d+) errors \((\d+)\)$/.exec(text);
  if (m) return { kind: 'errors', line: unfmt(m[1]), measure: unfmt(m[2]) };
  m = /^≤ (\d+) ms \(max (\d+|n\/a)\)$/.exec(text);
  if (m) return { kind: 'ms', line: unfmt(m[1]), max: unfmt(m[2]) };
  m = /^flat: ≤ \+([\d.]+) %$/.exec(text);
  if (m) return { kind: 'flat', line: unfmt(m[1]) };
  return undefined;
}

/** The figure a goal is judged on; NaN when it was not measured. */
function measureOf(g: Goal, f: Figures): number {
  switch (g.kind) {
    case 'ratio':
      return (g.to === 'limit' ? f.overLimit : f.overPeer) ?? Number.NaN;
    case 'own healthy':
    case 'errors':
      return g.measure;
    case 'ms':
    case 'flat':
      return f.understudy ?? Number.NaN;
  }
}

/**
 * Whether the table shows the goal's figure rounded, so that a figure shown exactly on its line may
 * have missed by less than the rounding; a count (errors) is shown exactly.
 */
export function shownRounded(g: Goal): boolean {
  return g.kind !== 'errors';
}

/** Whether the goal is met by a row's figures; undefined when its figure was not measured. */
export function judge(g: Goal, f: Figures): { measure: number; pass: boolean | undefined } {
  const measure = measureOf(g, f);
  if (!Number.isFinite(measure)) return { measure, pass: undefined };
  const op = 'op' in g ? g.op : '≤';
  return { measure, pass: op === '≤' ? measure <= g.line : measure >= g.line };
}

/** A row's result from its goals' judgements: MISS if any missed, n/a if one could not be judged. */
export function verdict(passes: (boolean | undefined)[]): 'pass' | 'MISS' | 'n/a' {
  return passes.includes(false) ? 'MISS' : passes.includes(undefined) ? 'n/a' : 'pass';
}
