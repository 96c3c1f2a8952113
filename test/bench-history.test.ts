// bench/history.ts reads each goal back out of committed RESULTS.md files: it must read what
// report.ts writes, judge each goal of a row on its own, and agree with the result the run printed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { goalsOf, historyTable, withHistory, type RunGoals } from '../bench/history.js';
import { goalKey, judge } from '../bench/lib/goal.js';
import { rows, type Plan } from '../bench/lib/goals.js';
import { Raw, figures, table, type Row } from '../bench/lib/report.js';

/** A full run's RESULTS.md around a table, as run.ts writes it. */
function results(date: string, rows: Row[], kind = 'full'): string {
  return `# Understudy benchmark: results\n\nThe last ${kind} run of \`npm run bench\`.\n\n- date: ${date}\n\n## Table\n\n${table(rows)}\n\n## Notes\n\n- n\n\n## Raw values\n\n| r |\n`;
}

function row(figure: string, over: { limit?: number; peer?: number; u?: number }, goals: Row['goals']): Row {
  const values: Row['values'] = { understudy: over.u ?? 1 };
  const paired: NonNullable<Row['paired']> = {};
  if (over.limit !== undefined) paired.limit = over.limit;
  if (over.peer !== undefined) paired.peer = over.peer;
  return { scenario: '2', figure, unit: 'x', values, ratios: true, paired, goals, note: 'a note' };
}

const rps = (limit: number, peer: number) =>
  row('requests/s, 50 connections', { limit, peer }, [
    { kind: 'ratio', op: '≥', line: 10, to: 'peer' },
    { kind: 'ratio', op: '≥', line: 0.5, to: 'limit' },
    { kind: 'errors', line: 0, measure: 0 },
  ]);
const latency = (limit: number) =>
  row('added latency p50', { limit }, [{ kind: 'ratio', op: '≤', line: 2, to: 'limit' }]);

describe('bench history', () => {
  it('judges each goal of a row on its own figure, as the run did', () => {
    const run = goalsOf(
      results('2026-12-05T19:28:11.868Z', [
        rps(0.54, 3.85),
        latency(2.16),
        row('time to the backup’s first token', { u: 1021.4 }, [{ kind: 'ms', line: 1050, max: 1033 }]),
      ]),
    );
    assert.ok(run);
    assert.deepEqual(run.mismatches, []);
    assert.deepEqual(
      run.goals.map((g) => [g.key, g.measure, g.pass]),
      [
        ['2 · requests/s, 50 connections · ≥ 10× peer', 3.85, false],
        ['2 · requests/s, 50 connections · ≥ 0.5× limit', 0.54, true],
        ['2 · requests/s, 50 connections · 0 errors', 0, true],
        ['2 · added latency p50 · ≤ 2× limit', 2.16, false],
        ['2 · time to the backup’s first token · ≤ 1050 ms', 1021.4, true],
      ],
    );
  });

  it('counts a figure shown on its line as missed when the run said so (it missed by less than the rounding)', () => {
    const dead = (measure: number) =>
      row('requests/s, primary refusing connections', { limit: 0.5 }, [
        { kind: 'own healthy', op: '≥', line: 0.9, measure },
        { kind: 'errors', line: 0, measure: 0 },
      ]);
    // 0.898 is shown as "0.90×", which reads as a pass; the table judged 0.898 and said MISS.
    const md = results('2026-12-03T20:26:31Z', [dead(0.898)]);
    assert.match(md, /≥ 0\.9× own healthy \(0\.90×\); 0 errors \(0\) \| MISS \|/);
    const missed = goalsOf(md);
    assert.deepEqual(missed?.mismatches, []);
    assert.equal(missed?.goals[0]?.key, '2 · requests/s, primary refusing connections · ≥ 0.9× own healthy');
    assert.equal(missed?.goals[0]?.pass, false);
    // An error count is shown exactly: 0 errors on the line of 0 passed, whatever the row's result.
    assert.equal(missed?.goals[1]?.key, '2 · requests/s, primary refusing connections · 0 errors');
    assert.equal(missed?.goals[1]?.pass, true);
    // A table that contradicts its goals beyond rounding is a reading to distrust: reported.
    const wrong = goalsOf(
      results('2026-12-03T20:26:31Z', [dead(0.95)]).replace('(0) | pass |', '(0) | MISS |'),
    );
    assert.equal(wrong?.mismatches.length, 1);
    assert.match(wrong?.mismatches[0] ?? '', /table says MISS, goals read say pass/);
  });

  it('reads back every goal the benchmark sets, with the result the run gave it', () => {
    // Every measurement the rows ask for has three rounds: understudy 3, limit 2, peer 1, others 1,
    // so the ratio goals land on both sides of their lines (1.5× limit, 3× peer) and 9 errors miss.
    class Filled extends Raw {
      override get(key: string): number[] {
        const got = super.get(key);
        if (got.length > 0) return got;
        const v = key.endsWith('/ understudy') ? 3 : key.endsWith('/ limit') ? 2 : 1;
        return [v, v, v];
      }
    }
    const plan: Plan = {
      rounds: 3,
      latencyS: 1,
      rpsS: 1,
      deadLatencyS: 1,
      deadRpsS: 1,
      streamS: 1,
      soakS: 300,
      connections: 50,
      streams: 20,
    };
    const written = rows(new Filled(), plan, { startMiB: 100, endMiB: 112, pct: 12 });
    const live = written.flatMap((r) =>
      r.goals.map((g) => [`${r.scenario} · ${r.figure} · ${goalKey(g)}`, judge(g, figures(r)).pass]),
    );
    assert.equal(live.length, 15, 'every goal of the benchmark');
    assert.ok(live.some(([, pass]) => pass === true) && live.some(([, pass]) => pass === false));
    const read = goalsOf(results('2026-12-06T03:00:00Z', written));
    assert.deepEqual(read?.mismatches, []);
    assert.deepEqual(
      read?.goals.map((g) => [g.key, g.pass]),
      live,
    );
  });

  it('skips quick runs, whose figures are not comparable', () => {
    assert.equal(goalsOf(results('2026-12-05T10:00:00Z', [rps(0.6, 4)], '**quick (smoke)**')), undefined);
  });

  it('tabulates each goal over the runs: how often it passed, its median, and each run marked', () => {
    const runs = [
      goalsOf(results('2026-12-04T10:00:00Z', [rps(0.52, 4)])),
      goalsOf(results('2026-12-04T12:00:00Z', [rps(0.47, 4.4)])),
      goalsOf(results('2026-12-05T10:00:00Z', [rps(0.6, 5), latency(1.8)])),
    ].filter((r): r is RunGoals => r !== undefined);
    const md = historyTable(runs).split('\n');
    assert.equal(md[0], '| goal | passed | median | 12-04 10:00 | 12-04 12:00 | 12-05 10:00 |');
    assert.equal(
      md[2],
      '| 2 · requests/s, 50 connections · ≥ 10× peer | 0 of 3 | 4.40 | 4.00 ✗ | 4.40 ✗ | 5.00 ✗ |',
    );
    assert.equal(
      md[3],
      '| 2 · requests/s, 50 connections · ≥ 0.5× limit | 2 of 3 | 0.52 | 0.52 | 0.47 ✗ | 0.60 |',
    );
    // A goal the older runs did not have counts only where it was measured.
    assert.equal(md[5], '| 2 · added latency p50 · ≤ 2× limit | 1 of 1 | 1.80 | — | — | 1.80 |');
  });

  it("puts the goals of the committed runs and this one into a full run's RESULTS.md", () => {
    // A repository of its own, whose history holds one earlier run (and a quick one, not counted).
    const root = mkdtempSync(join(tmpdir(), 'bench-history-'));
    try {
      const git = (...args: string[]) =>
        execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: root });
      git('init', '-q');
      mkdirSync(join(root, 'bench'));
      const commit = (md: string) => {
        writeFileSync(join(root, 'bench/RESULTS.md'), md);
        git('add', '.');
        git('commit', '-q', '-m', 'run');
      };
      commit(results('2026-12-04T10:00:00Z', [rps(0.45, 4)]));
      commit(results('2026-12-04T11:00:00Z', [rps(0.9, 9)], '**quick (smoke)**'));
      const now = results('2026-12-05T10:00:00Z', [rps(0.6, 5)]);
      const md = withHistory(root, now);
      const section = md.split('## Each goal over the last 2 full runs')[1]?.split('## Raw values')[0] ?? '';
      assert.match(section, /\| goal \| passed \| median \| 12-04 10:00 \| 12-05 10:00 \|/);
      assert.match(
        section,
        /\| 2 · requests\/s, 50 connections · ≥ 0\.5× limit \| 1 of 2 \| 0\.53 \| 0\.45 ✗ \| 0\.60 \|/,
      );
      assert.ok(md.startsWith(now.split('## Raw values')[0] as string), 'the run itself is unchanged');
      // A quick run is written as it is.
      const quick = results('2026-12-05T11:00:00Z', [rps(0.6, 5)], '**quick (smoke)**');
      assert.equal(withHistory(root, quick), quick);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
