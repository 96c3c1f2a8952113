/**
 * Each goal of the benchmark over the recent full runs, read from git: every full run's table is
 * committed as bench/RESULTS.md, so the file's history is the record. One run on a noisy machine
 * can pass or miss a goal that sits near its line; this says how often each goal passed.
 *
 *   npx tsx bench/history.ts [--since ISO-DATE] [--last N]
 *
 * `--since` defaults to COMPARABLE_SINCE. The working copy's RESULTS.md counts too when it holds a
 * run that is not committed yet. `npm run bench` puts the same table, its own run included, in
 * RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { goalKey, judge, parseGoal, shownRounded, verdict, type Figures } from './lib/goal.js';
import { fmt, median, unfmt } from './lib/stats.js';

/** One goal of one run: the figure it is judged on and whether it passed. */
export interface GoalResult {
  /** Scenario, figure and goal, without the run's own numbers: the same in every run. */
  key: string;
  measure: number;
  pass: boolean | undefined;
}

/** A full run's date and goals, read from its RESULTS.md. */
export interface RunGoals {
  date: string;
  goals: GoalResult[];
  /** Rows whose result disagrees with the goals read from them (the reading is wrong, not the run). */
  mismatches: string[];
}

/** One goal's text read back and judged on the row's cells, as the run judged it (lib/goal.ts). */
function readGoal(text: string, f: Figures): GoalResult & { line?: number } {
  const goal = parseGoal(text);
  if (!goal) return { key: text, measure: Number.NaN, pass: undefined };
  const read = { key: goalKey(goal), ...judge(goal, f) };
  return shownRounded(goal) ? { ...read, line: goal.line } : read;
}

/** The goals of a full run's RESULTS.md; undefined for a quick (smoke) run or another file. */
export function goalsOf(md: string): RunGoals | undefined {
  if (!/^The last full run/m.test(md)) return undefined;
  const date = /^- date: (\S+)/m.exec(md)?.[1];
  if (!date) return undefined;
  const table = md.split('## Table')[1]?.split('\n## ')[0] ?? '';
  const goals: GoalResult[] = [];
  const mismatches: string[] = [];
  for (const line of table.split('\n')) {
    const cells = line.split('|').map((s) => s.trim());
    // | # | figure | understudy | limit | peer | ÷ limit | ÷ peer | goal | result |
    if (cells.length < 11 || !/^\d+$/.test(cells[1] ?? '')) continue;
    const [, scenario, figureCell, u, , , overLimit, overPeer, goalCell, result] = cells;
    if (!goalCell || goalCell === '—') continue;
    // "requests/s, 50 connections (req/s) — direct 5750 req/s" → "requests/s, 50 connections"
    const figure = (figureCell ?? '').split(' — ')[0]?.replace(/ \([^()]*\)$/, '') ?? '';
    const f: Figures = { understudy: unfmt(u), overLimit: unfmt(overLimit), overPeer: unfmt(overPeer) };
    const judged = goalCell.split('; ').map((g) => readGoal(g, f));
    const expected = verdict(judged.map((j) => j.pass));
    if (expected !== result) {
      // The table judged the unrounded figure: a figure shown exactly on its line missed by less
      // than the table's rounding. Anything else means this reading is wrong, and is reported.
      const onLine = judged.filter((j) => j.line !== undefined && j.measure === j.line);
      if (result === 'MISS' && expected === 'pass' && onLine.length > 0) {
        for (const j of onLine) j.pass = false;
      } else mismatches.push(`${figure}: table says ${result}, goals read say ${expected}`);
    }
    for (const j of judged)
      goals.push({ key: `${scenario} · ${figure} · ${j.key}`, measure: j.measure, pass: j.pass });
  }
  return { date, goals, mismatches };
}

/** Each goal over the runs (oldest first): a Markdown table with how often it passed. */
export function historyTable(runs: readonly RunGoals[]): string {
  const keys: string[] = [];
  for (const r of runs) for (const g of r.goals) if (!keys.includes(g.key)) keys.push(g.key);
  const when = runs.map((r) => r.date.slice(5, 16).replace('T', ' '));
  const head = `| goal | passed | median | ${when.join(' | ')} |\n|---|--:|--:|${when.map(() => '--:').join('|')}|`;
  const lines = keys.map((key) => {
    const of = runs.map((r) => r.goals.find((g) => g.key === key));
    const judged = of.filter((g): g is GoalResult => g !== undefined && g.pass !== undefined);
    const passed = judged.filter((g) => g.pass).length;
    const digits = (x: number) => (Math.abs(x) >= 100 ? 0 : 2);
    const cell = (g: GoalResult | undefined) =>
      g === undefined ? '—' : `${fmt(g.measure, digits(g.measure))}${g.pass === false ? ' ✗' : ''}`;
    const mid = median(judged.map((g) => g.measure));
    return `| ${key} | ${passed} of ${judged.length} | ${fmt(mid, digits(mid))} | ${of.map(cell).join(' | ')} |`;
  });
  return [head, ...lines].join('\n');
}

/** The limit's lean relay (bench/README.md): ratios to the limit before this do not compare. */
export const COMPARABLE_SINCE = '2026-12-03T20:00Z';

/** How to read the table's cells. */
const LEGEND =
  'each cell is the figure the goal is judged on, ✗ where it missed (a figure shown exactly on its ' +
  'line missed by less than the rounding)';

/** Every committed full run of bench/RESULTS.md since a date, and `now` (a run read already) if new. */
export function recordedRuns(root: string, since: string, now: RunGoals | undefined): RunGoals[] {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' });
  const runs: RunGoals[] = [];
  for (const commit of git('log', '--format=%H', '--', 'bench/RESULTS.md').split('\n').filter(Boolean)) {
    const run = goalsOf(git('show', `${commit}:bench/RESULTS.md`));
    if (run) runs.push(run);
  }
  if (now && !runs.some((r) => r.date === now.date)) runs.push(now);
  return runs.filter((r) => r.date >= since).sort((a, b) => a.date.localeCompare(b.date));
}

/**
 * A full run's RESULTS.md with a section on each goal over the last `last` full runs, this one
 * included; as it was without git (a tarball) or for a quick run.
 */
export function withHistory(root: string, md: string, last = 10): string {
  const now = goalsOf(md);
  if (!now) return md;
  let runs: RunGoals[];
  try {
    runs = recordedRuns(root, COMPARABLE_SINCE, now).slice(-last);
  } catch {
    return md;
  }
  const section =
    `## Each goal over the last ${runs.length} full runs\n\n` +
    `From the committed RESULTS.md of earlier runs and this one (\`npx tsx bench/history.ts\`): ${LEGEND}. ` +
    'One run can pass or miss a goal near its line; the count says how often it passed.\n\n' +
    `${historyTable(runs)}\n\n`;
  return md.replace('## Raw values', `${section}## Raw values`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { since: { type: 'string' }, last: { type: 'string' } } });
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const last = Number(values.last ?? 0);
  let runs = recordedRuns(
    root,
    values.since ?? COMPARABLE_SINCE,
    goalsOf(readFileSync(join(root, 'bench/RESULTS.md'), 'utf8')),
  );
  if (last > 0) runs = runs.slice(-last);
  for (const r of runs) for (const m of r.mismatches) console.error(`${r.date}: ${m}`);
  console.log(`${runs.length} full runs; ${LEGEND}.\n`);
  console.log(historyTable(runs));
}
