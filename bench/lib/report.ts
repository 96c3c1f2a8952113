/** The benchmark's one table of ratios, and bench/RESULTS.md. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { goalText, judge, verdict, type Figures, type Goal } from './goal.js';
import { fmt, median, ratio } from './stats.js';

export type Sys = 'understudy' | 'limit' | 'peer';

/** One figure of the table. */
export interface Row {
  scenario: string;
  figure: string;
  unit: string;
  values: Partial<Record<Sys, number>>;
  /** Show understudy ÷ limit and understudy ÷ peer. */
  ratios: boolean;
  /** Medians of the per-round ratios (see `Raw.pair`); shown instead of the ratio of the medians. */
  paired?: Partial<Record<'limit' | 'peer', number>>;
  /** Judged on the row's figures (`figures`) when the table is written. */
  goals: Goal[];
  note?: string;
  digits?: number;
}

/** Per-round raw values, by key (e.g. `1 latency p50 ms / understudy`). */
export class Raw {
  readonly rounds = new Map<string, number[]>();
  /** Appends one round's value under `key`. */
  add(key: string, value: number): void {
    const list = this.rounds.get(key) ?? [];
    list.push(value);
    this.rounds.set(key, list);
  }
  /** Every round's value under `key`, in round order. */
  get(key: string): number[] {
    return this.rounds.get(key) ?? [];
  }
  /** The median over rounds of `key`. */
  median(key: string): number {
    return median(this.get(key));
  }
  /**
   * The median of the per-round ratios `<prefix> / a` ÷ `<prefix> / b`, the ratios kept as
   * `<prefix> / a ÷ b`. A round measures every system seconds apart, so a ratio within a round
   * cancels the machine's drift between rounds, which a ratio of two medians keeps. A round where
   * `b` is not positive (an "added" time that noise put at or below zero) has no ratio: n/a.
   */
  pair(prefix: string, a: string, b: string): number {
    const xs = this.get(`${prefix} / ${a}`);
    const ys = this.get(`${prefix} / ${b}`);
    if (xs.length !== ys.length)
      throw new Error(`${prefix}: ${xs.length} rounds of ${a} but ${ys.length} of ${b}; cannot pair them`);
    const key = `${prefix} / ${a} ÷ ${b}`;
    this.rounds.set(
      key,
      xs.map((x, i) => {
        const y = ys[i] as number;
        return y > 0 ? ratio(x, y) : Number.NaN;
      }),
    );
    return this.median(key);
  }
}

function cell(x: number | undefined, digits: number): string {
  return x === undefined ? '—' : fmt(x, digits);
}

/** Understudy ÷ another system: the row's paired median when it has one, else the ratio of the medians. */
function over(r: Row, other: 'limit' | 'peer'): number | undefined {
  if (!r.ratios) return undefined;
  const paired = r.paired?.[other];
  if (paired !== undefined) return paired;
  const u = r.values.understudy;
  const o = r.values[other];
  return u !== undefined && o !== undefined ? ratio(u, o) : undefined;
}

/** The figures a row's goals are judged on: its understudy value and its two ratios, unrounded. */
export function figures(r: Row): Figures {
  return { understudy: r.values.understudy, overLimit: over(r, 'limit'), overPeer: over(r, 'peer') };
}

/** The goal and result cells: MISS if any goal missed, n/a if one could not be judged. */
function goalCell(r: Row): { text: string; result: string } {
  if (r.goals.length === 0) return { text: '—', result: '' };
  const f = figures(r);
  const result = verdict(r.goals.map((g) => judge(g, f).pass));
  return { text: r.goals.map(goalText).join('; '), result };
}

/** The table as Markdown. */
export function table(rows: Row[]): string {
  const head =
    '| # | figure | understudy | limit | peer | understudy ÷ limit | understudy ÷ peer | goal | result |\n' +
    '|---|---|--:|--:|--:|--:|--:|---|---|';
  const lines = rows.map((r) => {
    const d = r.digits ?? 2;
    const u = r.values.understudy;
    const l = r.values.limit;
    const p = r.values.peer;
    const rl = cell(over(r, 'limit'), 2);
    const rp = cell(over(r, 'peer'), 2);
    const g = goalCell(r);
    const figure = `${r.figure} (${r.unit})${r.note ? ` — ${r.note}` : ''}`;
    return `| ${r.scenario} | ${figure} | ${cell(u, d)} | ${cell(l, d)} | ${cell(p, d)} | ${rl} | ${rp} | ${g.text} | ${g.result} |`;
  });
  return [head, ...lines].join('\n');
}

/** The per-round values and their medians, as Markdown. */
export function rawTable(raw: Raw): string {
  const lines = ['| measurement | median | rounds |', '|---|--:|---|'];
  for (const [key, values] of raw.rounds) {
    lines.push(`| ${key} | ${fmt(median(values), 3)} | ${values.map((v) => fmt(v, 3)).join(', ')} |`);
  }
  return lines.join('\n');
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Date, machine, CPU, Node: the facts a RESULTS.md starts with. */
export function machine(): Record<string, string> {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpuModel = m[1];
  } catch {
    // not Linux
  }
  return {
    date: new Date().toISOString(),
    uname: sh('uname', ['-a']),
    cpu: `${cpuModel} × ${cpus().length}`,
    memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    load: loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
    node: process.version,
    npm: sh('npm', ['--version']),
  };
}
