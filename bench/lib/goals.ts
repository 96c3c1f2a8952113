/**
 * The benchmark's goals (issue 6) and the table rows that judge them: which figure each goal is set
 * on, its line, and the notes beside it. run.ts measures; this decides what the measures mean.
 */
import type { Raw, Row, Sys } from './report.js';
import { FIRST_TOKEN_MS } from './systems.js';

/** How long and how wide a run measures. */
export interface Plan {
  rounds: number;
  /** Scenario 1: seconds of one-at-a-time requests per system per round. */
  latencyS: number;
  /** Scenario 2: seconds of 50-connection load per system per round. */
  rpsS: number;
  /** Scenario 3: the same two, per primary failure. */
  deadLatencyS: number;
  deadRpsS: number;
  /** Scenario 5: seconds of paced streams per system per round. */
  streamS: number;
  soakS: number;
  connections: number;
  streams: number;
}

/** RSS over the soak: the start and end windows' medians and the growth between them. */
export interface SoakGrowth {
  startMiB: number;
  endMiB: number;
  pct: number;
}

/** The table: each figure's medians, its ratios to the limit and the peer, and its goals judged. */
export function rows(raw: Raw, plan: Plan, soakGrowth: SoakGrowth): Row[] {
  const m = (key: string) => raw.median(key);
  const bySys = (prefix: string): Partial<Record<Sys, number>> => ({
    understudy: m(`${prefix} / understudy`),
    limit: m(`${prefix} / limit`),
    peer: m(`${prefix} / peer`),
  });
  /**
   * A measurement's cells: the medians of each system, and understudy ÷ limit and ÷ peer as medians
   * of the per-round ratios (`Raw.pair`).
   */
  const measured = (prefix: string) => ({
    values: bySys(prefix),
    ratios: true,
    paired: { limit: raw.pair(prefix, 'understudy', 'limit'), peer: raw.pair(prefix, 'understudy', 'peer') },
  });
  const out: Row[] = [];

  out.push({
    scenario: '1',
    figure: 'added latency p50 over direct, one request at a time',
    unit: 'ms',
    ...measured('1 added p50 ms'),
    goals: [{ kind: 'ratio', op: '≤', line: 2, to: 'limit' }],
    digits: 3,
  });
  out.push({
    scenario: '1',
    figure: 'added latency p99 over direct',
    unit: 'ms',
    ...measured('1 added p99 ms'),
    goals: [],
    digits: 3,
  });

  const uErrors = raw.get('2 errors / understudy').reduce((a, b) => a + b, 0);
  const peerErrors = raw.get('2 errors / peer').reduce((a, b) => a + b, 0);
  out.push({
    scenario: '2',
    figure: `requests/s, ${plan.connections} connections`,
    unit: 'req/s',
    ...measured('2 req/s'),
    goals: [
      { kind: 'ratio', op: '≥', line: 10, to: 'peer' },
      { kind: 'ratio', op: '≥', line: 0.5, to: 'limit' },
      { kind: 'errors', line: 0, measure: uErrors },
    ],
    note: `direct ${m('2 req/s / direct').toFixed(0)} req/s${peerErrors > 0 ? `; peer had ${peerErrors} errors` : ''}`,
    digits: 0,
  });

  out.push({
    scenario: '2',
    figure: 'CPU per request at that load',
    unit: 'ms',
    ...measured('2 CPU ms per request'),
    goals: [],
    note: `simulator's own: ${m('2 CPU ms per request / direct').toFixed(3)} ms`,
    digits: 3,
  });

  for (const kind of ['e503', 'refused'] as const) {
    const what = kind === 'e503' ? 'primary answering 503' : 'primary refusing connections';
    const v = measured(`3 ${kind} req/s`);
    const rel = m(`3 ${kind} req/s ÷ healthy req/s / understudy`);
    const errs = raw.get(`3 ${kind} errors / understudy`).reduce((a, b) => a + b, 0);
    const peerErrs = raw.get(`3 ${kind} errors / peer`).reduce((a, b) => a + b, 0);
    out.push({
      scenario: '3',
      figure: `requests/s, ${what}`,
      unit: 'req/s',
      ...v,
      goals: [
        { kind: 'own healthy', op: '≥', line: 0.9, measure: rel },
        { kind: 'errors', line: 0, measure: errs },
      ],
      note:
        `limit goes straight to the backup; Understudy CPU per request ` +
        `${m(`3 ${kind} CPU ms per request / understudy`).toFixed(3)} ms vs ` +
        `${m(`3 ${kind} CPU ms per request / understudy-healthy`).toFixed(3)} ms healthy` +
        (peerErrs > 0 ? `; peer had ${peerErrs} errors` : ''),
      digits: 0,
    });
  }
  for (const kind of ['e503', 'refused'] as const) {
    const what = kind === 'e503' ? 'primary answering 503' : 'primary refusing connections';
    const healthyAdded = m(`3 ${kind} added p50 ms / understudy-healthy`);
    out.push({
      scenario: '3',
      figure: `added latency p50, ${what}, health memory knows`,
      unit: 'ms',
      ...measured(`3 ${kind} added p50 ms`),
      goals: [{ kind: 'ratio', op: '≤', line: 2, to: 'limit' }],
      note: `Understudy healthy in the same rounds: ${healthyAdded.toFixed(3)} ms`,
      digits: 3,
    });
  }

  for (const kind of ['hung', 'silent'] as const) {
    const what = kind === 'hung' ? 'primary never answers' : 'primary silent after its headers';
    const limitMs = FIRST_TOKEN_MS + 50;
    const uMax = Math.max(...raw.get(`4 ${kind} time to backup's first token ms / understudy`));
    const peerMissing = raw.get(`4 ${kind} no first token within ${FIRST_TOKEN_MS * 4} ms / peer`).length;
    const after = m(`4 ${kind} first token ms once health memory knows / understudy`);
    out.push({
      scenario: '4',
      figure: `time to the backup's first token, ${what} (timeout ${FIRST_TOKEN_MS} ms)`,
      unit: 'ms',
      ...measured(`4 ${kind} time to backup's first token ms`),
      goals: [{ kind: 'ms', line: limitMs, max: uMax }],
      note:
        `then ${after.toFixed(1)} ms once health memory knows` +
        (peerMissing > 0
          ? `; peer: no first token within ${FIRST_TOKEN_MS * 4} ms in ${peerMissing} of ${plan.rounds}`
          : ''),
      digits: 1,
    });
  }

  out.push({
    scenario: '5',
    figure: `added time to first token p99, ${plan.streams} paced streams in flight`,
    unit: 'ms',
    ...measured('5 added TTFT p99 ms'),
    goals: [],
    digits: 2,
  });
  out.push({
    scenario: '5',
    figure: 'CPU per streamed chunk',
    unit: 'µs',
    ...measured('5 CPU µs per chunk'),
    goals: [{ kind: 'ratio', op: '≤', line: 3, to: 'limit' }],
    note: `simulator's own: ${m('5 CPU µs per chunk / direct').toFixed(1)} µs`,
    digits: 1,
  });

  out.push({
    scenario: '6',
    figure: `resident memory under ${plan.connections}-connection load`,
    unit: 'MiB',
    ...measured('6 RSS under load MiB'),
    goals: [{ kind: 'ratio', op: '≤', line: 0.5, to: 'peer' }],
    digits: 0,
  });
  out.push({
    scenario: '6',
    figure: `resident memory growth over a ${plan.soakS} s soak`,
    unit: '%',
    values: { understudy: soakGrowth.pct },
    ratios: false,
    goals: [{ kind: 'flat', line: 10 }],
    note: `${soakGrowth.startMiB.toFixed(0)} → ${soakGrowth.endMiB.toFixed(0)} MiB`,
    digits: 1,
  });
  return out;
}
