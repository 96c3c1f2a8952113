/**
 * `npm run bench`: Understudy's OpenAI-compatible gateway side by side with the physical limit (a
 * bare node:http + undici proxy) and the best-known open peer (Portkey's gateway), over the provider
 * simulator, in interleaved rounds; prints one table of ratios and writes bench/RESULTS.md.
 *
 *   npm run bench                     full run (~17 min, with a BENCH_SOAK_SECONDS=300 soak)
 *   npm run bench -- --quick          smoke run (~2-3 min, 20 s soak); also BENCH_QUICK=1
 *   npm run bench -- --profile        Understudy runs under --cpu-prof; top functions printed
 *   npm run bench -- --out FILE       where the Markdown goes (quick runs: a temp file by default)
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { rows, type Plan, type SoakGrowth } from './lib/goals.js';
import { withHistory } from './history.js';
import { summarize, summaryMarkdown } from './profile-summary.js';
import {
  costedThroughput,
  firstToken,
  sequentialLatency,
  streaming,
  throughput,
  type Target,
} from './lib/load.js';
import { cpuMs, rssMiB, sampleRss, stopAll } from './lib/procs.js';
import { machine, Raw, rawTable, table, type Sys } from './lib/report.js';
import { median, percentile, ratio } from './lib/stats.js';
import {
  directTarget,
  FIRST_TOKEN_MS,
  limitTarget,
  PACED_DELAY_MS,
  PACED_TOKENS,
  peerTarget,
  startLab,
  startUnderstudy,
  understudyPids,
  type Lab,
  type PrimaryKind,
} from './lib/systems.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: { quick: { type: 'boolean' }, profile: { type: 'boolean' }, out: { type: 'string' } },
});
const quick = args.quick === true || process.env.BENCH_QUICK === '1';
const profile = args.profile === true || process.env.BENCH_PROFILE === '1';

const soakEnv = Number(process.env.BENCH_SOAK_SECONDS);
const plan: Plan = quick
  ? {
      rounds: 2,
      latencyS: 1,
      rpsS: 1.5,
      deadLatencyS: 0.8,
      deadRpsS: 1.2,
      streamS: 2,
      soakS: 20,
      connections: 50,
      streams: 20,
    }
  : {
      // Five rounds of several seconds each: on a shared 2-core machine one round's throughput can
      // swing ±15 %, and a median of three moved by more than some goals' margins.
      rounds: 5,
      latencyS: 3,
      rpsS: 6,
      deadLatencyS: 2,
      deadRpsS: 5,
      streamS: 4,
      soakS: 300,
      connections: 50,
      streams: 20,
    };
if (Number.isFinite(soakEnv) && soakEnv > 0) plan.soakS = soakEnv;

const started = performance.now();
const loadAtStart = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
const log = (msg: string) =>
  console.error(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);

/** The list, rotated by k: each round starts with another system. */
function rotate<T>(list: readonly T[], k: number): T[] {
  const n = list.length;
  return list.map((_, i) => list[(i + k) % n] as T);
}

function as(t: Target, system: string): Target {
  return { ...t, system };
}

/**
 * Warms a system's code paths (JIT, connection pools) and, for a dead primary, its health memory.
 * A fresh process needs a few thousand requests before its hot paths are optimised: with less, a
 * new instance (scenario 3) is compared with one warmed by earlier scenarios, and JIT warm-up is
 * measured instead of the dead primary.
 */
async function warm(t: Target): Promise<void> {
  await sequentialLatency(t, 400);
  await throughput(t, plan.connections, quick ? 1.5 : 3);
}

const GATEWAYS: Sys[] = ['understudy', 'limit', 'peer'];

async function scenario1and2(lab: Lab, raw: Raw, healthy: Target): Promise<void> {
  const systems = [
    directTarget(lab, 'instant'),
    limitTarget(lab, 'healthy', 'instant'),
    peerTarget(lab, 'healthy', 'instant'),
    healthy,
  ];
  log('warming up');
  for (const t of systems) await warm(t);
  for (let r = 0; r < plan.rounds; r++) {
    log(`1 · latency, one request at a time · round ${r + 1}/${plan.rounds}`);
    const p50: Record<string, number> = {};
    const p99: Record<string, number> = {};
    for (const t of rotate(systems, r)) {
      const res = await sequentialLatency(t, plan.latencyS * 1000);
      p50[t.system] = percentile(res.samples, 0.5);
      p99[t.system] = percentile(res.samples, 0.99);
      raw.add(`1 latency p50 ms / ${t.system}`, p50[t.system] as number);
      raw.add(`1 latency p99 ms / ${t.system}`, p99[t.system] as number);
      if (res.errors > 0) raw.add(`1 errors / ${t.system}`, res.errors);
    }
    for (const s of GATEWAYS) {
      raw.add(`1 added p50 ms / ${s}`, (p50[s] as number) - (p50.direct as number));
      raw.add(`1 added p99 ms / ${s}`, (p99[s] as number) - (p99.direct as number));
    }
  }
  for (let r = 0; r < plan.rounds; r++) {
    log(`2 · throughput, ${plan.connections} connections · round ${r + 1}/${plan.rounds}`);
    for (const t of rotate(systems, r)) {
      const res = await costedThroughput(t, plan.connections, plan.rpsS);
      raw.add(`2 req/s / ${t.system}`, res.rps);
      raw.add(`2 errors / ${t.system}`, res.errors);
      raw.add(`2 CPU ms per request / ${t.system}`, res.cpuMsPerRequest);
      if (t.system !== 'direct') raw.add(`6 RSS under load MiB / ${t.system}`, res.peakRssMiB);
    }
  }
}

async function scenario3(lab: Lab, raw: Raw, healthy: Target): Promise<void> {
  for (const kind of ['e503', 'refused'] as const) {
    const u = await startUnderstudy(lab, kind, 'instant');
    try {
      const latencySystems = [
        directTarget(lab, 'instant'),
        limitTarget(lab, kind, 'instant'),
        peerTarget(lab, kind, 'instant'),
        u.target,
        as(healthy, 'understudy-healthy'),
      ];
      log(`3 · primary ${kind}: warming up (health memory learns the primary is down)`);
      for (const t of latencySystems) await warm(t);
      const check = await firstToken(u.target, 5000);
      log(`3 · primary ${kind}: Understudy answers through '${check.answeredBy}' (${check.status})`);
      for (let r = 0; r < plan.rounds; r++) {
        log(`3 · primary ${kind} · round ${r + 1}/${plan.rounds}`);
        const p50: Record<string, number> = {};
        for (const t of rotate(latencySystems, r)) {
          const res = await sequentialLatency(t, plan.deadLatencyS * 1000);
          p50[t.system] = percentile(res.samples, 0.5);
          if (res.errors > 0) raw.add(`3 ${kind} latency errors / ${t.system}`, res.errors);
        }
        for (const s of [...GATEWAYS, 'understudy-healthy'])
          raw.add(`3 ${kind} added p50 ms / ${s}`, (p50[s] as number) - (p50.direct as number));
        const rps: Record<string, number> = {};
        for (const t of rotate(latencySystems.slice(1), r)) {
          const cpu0 = cpuMs(t.pid);
          const res = await throughput(t, plan.connections, plan.deadRpsS);
          raw.add(`3 ${kind} CPU ms per request / ${t.system}`, ratio(cpuMs(t.pid) - cpu0, res.ok));
          rps[t.system] = res.rps;
          raw.add(`3 ${kind} req/s / ${t.system}`, res.rps);
          raw.add(`3 ${kind} errors / ${t.system}`, res.errors);
        }
        raw.add(
          `3 ${kind} req/s ÷ healthy req/s / understudy`,
          ratio(rps.understudy as number, rps['understudy-healthy'] as number),
        );
      }
    } finally {
      await u.proc.stop();
    }
  }
}

async function scenario4(lab: Lab, raw: Raw): Promise<void> {
  const cap = FIRST_TOKEN_MS * 4;
  for (const kind of ['hung', 'silent'] as const satisfies readonly PrimaryKind[]) {
    for (let r = 0; r < plan.rounds; r++) {
      // A fresh instance each round: after three timeouts in a row health memory opens the
      // primary's circuit, and later rounds would time the straight-to-backup path instead.
      const u = await startUnderstudy(lab, kind, 'instant');
      try {
        // Warm the code paths through the backup model only: the primary's health stays unknown.
        for (let i = 0; i < 5; i++) await firstToken({ ...u.target, model: 'backup' }, cap);
        const systems = [limitTarget(lab, kind, 'instant'), peerTarget(lab, kind, 'instant'), u.target];
        log(
          `4 · primary ${kind === 'hung' ? 'never answers' : 'silent after headers'} · round ${r + 1}/${plan.rounds}`,
        );
        for (const t of rotate(systems, r)) {
          const res = await firstToken(t, cap);
          raw.add(`4 ${kind} time to backup's first token ms / ${t.system}`, res.ttftMs ?? Number.NaN);
          if (res.ttftMs === undefined) raw.add(`4 ${kind} no first token within ${cap} ms / ${t.system}`, 1);
        }
        if (r < plan.rounds - 1) continue;
        // Then until health memory knows (3 timeouts in a row open the circuit): straight to the backup.
        let after = await firstToken(u.target, cap);
        for (let i = 0; i < 4 && (after.ttftMs ?? cap) >= FIRST_TOKEN_MS; i++)
          after = await firstToken(u.target, cap);
        raw.add(`4 ${kind} first token ms once health memory knows / understudy`, after.ttftMs ?? Number.NaN);
      } finally {
        await u.proc.stop();
      }
    }
  }
}

async function scenario5(lab: Lab, raw: Raw): Promise<void> {
  const u = await startUnderstudy(lab, 'healthy', 'paced');
  try {
    const systems = [
      directTarget(lab, 'paced'),
      limitTarget(lab, 'healthy', 'paced'),
      peerTarget(lab, 'healthy', 'paced'),
      u.target,
    ];
    // Arrivals spread over one stream's duration: 20 streams in flight in a steady state.
    const stagger = (PACED_TOKENS * PACED_DELAY_MS) / plan.streams;
    log('5 · paced streams: warming up');
    for (const t of systems) await streaming(t, 4, 1500);
    for (let r = 0; r < plan.rounds; r++) {
      log(
        `5 · paced streams (${PACED_TOKENS} chunks ${PACED_DELAY_MS} ms apart), ${plan.streams} at a time · round ${r + 1}/${plan.rounds}`,
      );
      const p99: Record<string, number> = {};
      for (const t of rotate(systems, r)) {
        const cpu0 = cpuMs(t.pid);
        const res = await streaming(t, plan.streams, plan.streamS * 1000, stagger);
        const cpu = cpuMs(t.pid) - cpu0;
        p99[t.system] = percentile(res.ttfts, 0.99);
        raw.add(`5 TTFT p99 ms / ${t.system}`, p99[t.system] as number);
        raw.add(`5 CPU µs per chunk / ${t.system}`, ratio(cpu * 1000, res.chunks));
        raw.add(`5 chunks / ${t.system}`, res.chunks);
        if (res.errors > 0) raw.add(`5 errors / ${t.system}`, res.errors);
      }
      for (const s of GATEWAYS)
        raw.add(`5 added TTFT p99 ms / ${s}`, (p99[s] as number) - (p99.direct as number));
    }
  } finally {
    await u.proc.stop();
  }
}

async function soak(raw: Raw, healthy: Target): Promise<{ samples: number[] }> {
  log(`6 · soak: ${plan.soakS} s of mixed load on Understudy (10 connections + 4 streams)`);
  raw.add('6 RSS before soak MiB / understudy', rssMiB(healthy.pid));
  const rss = sampleRss(healthy.pid, 1000);
  const [whole, streams] = await Promise.all([
    throughput(healthy, 10, plan.soakS),
    streaming(healthy, 4, plan.soakS * 1000),
  ]);
  const samples = rss.stop();
  raw.add('6 soak req/s / understudy', whole.rps);
  raw.add('6 soak errors / understudy', whole.errors + streams.errors);
  return { samples };
}

/** RSS growth over a soak: the median of its last fifth against the median of its 10-30 % window. */
function growth(samples: number[]): SoakGrowth {
  const n = samples.length;
  const startMiB = median(
    samples.slice(Math.floor(n * 0.1), Math.max(Math.floor(n * 0.3), Math.floor(n * 0.1) + 1)),
  );
  const endMiB = median(samples.slice(Math.floor(n * 0.8)));
  return { startMiB, endMiB, pct: (100 * (endMiB - startMiB)) / startMiB };
}

function markdown(facts: Record<string, string>, tableMd: string, raw: Raw, extra: string): string {
  const peerRps = raw.median('2 req/s / peer');
  const limitOverPeer = `${ratio(raw.median('2 req/s / limit'), peerRps).toFixed(1)}×`;
  const directOverPeer = `${ratio(raw.median('2 req/s / direct'), peerRps).toFixed(1)}×`;
  const tenfold =
    ratio(raw.median('2 req/s / limit'), peerRps) < 10
      ? 'a goal of 10× the peer is out of reach of any Node gateway here.'
      : '10× the peer is within what a Node gateway can do here.';
  return `# Understudy benchmark: results

The last ${quick ? '**quick (smoke)**' : 'full'} run of \`npm run bench${quick ? ' -- --quick' : ''}\` (\`bench/run.ts\`, see \`bench/README.md\`).
These machines are noisy: absolute numbers mean little; the ratios, measured in interleaved rounds of
one run, hold. Values are medians over ${plan.rounds} rounds; the ratio columns, and the goals set on
ratios, are medians of the ${plan.rounds} per-round ratios (in a round the systems are measured seconds
apart, so a ratio within a round cancels the machine's drift between rounds; each round's ratios are
in the raw values below).

- date: ${facts.date}
- machine: \`${facts.uname}\`
- CPU: ${facts.cpu}; memory ${facts.memory}; load average at the start ${loadAtStart}, at the end ${facts.load}
- Node ${facts.node}, npm ${facts.npm}
- peer: \`@portkey-ai/gateway\` 1.15.2 (hono 4.9.7, @hono/node-server 1.13.5)

## Table

${tableMd}

**understudy**: \`POST /v1/chat/completions\` of \`scripts/start.ts\` (as \`npm start\` runs it), two
providers, fallback Automatic, primary first-token (and header) timeout ${FIRST_TOKEN_MS} ms.
**limit**: a bare \`node:http\` + \`undici\` proxy (\`bench/limit-proxy.ts\`) with the same fallback
semantics and no more (backup on refusal, 429/5xx or no first content within ${FIRST_TOKEN_MS} ms; with
a primary known to be down it goes straight to the backup: the best any gateway could do).
**peer**: Portkey's gateway, \`x-portkey-config\` strategy \`fallback\`, two \`openai\` targets with
\`custom_host\` at the simulator, \`request_timeout: ${FIRST_TOKEN_MS}\` on the primary.
**direct**: the simulator alone. Every system is its own process on 127.0.0.1; the load generator
(autocannon for throughput, undici clients for latency and streams) is the runner process.
"Added" figures are a system's value minus direct's in the same round. CPU per chunk is the
gateway process's user+system time (\`/proc/<pid>/stat\`) over a streaming run divided by the content
chunks delivered; memory is \`VmRSS\`.

## Notes

- On this machine the limit itself reaches ${limitOverPeer} the peer's requests/s (direct, the
  simulator alone, ${directOverPeer}): ${tenfold}
- Understudy and the limit are bundled by \`scripts/build.mjs\` (as \`npm start\` does) and run with
  plain node, like the peer's bundled JS: no TypeScript loader in any figure.
- Time to first token p99 is over the streams of a round (20 in flight, arrivals spread over one
  stream's duration): with a few dozen streams per round it is close to their maximum.
${extra}
## Raw values (per round) and medians

${rawTable(raw)}

## Commands

\`\`\`sh
npm install
npm run bench                  # full run (BENCH_SOAK_SECONDS=${plan.soakS})
npm run bench -- --quick       # smoke run
npm run bench -- --profile     # Understudy under --cpu-prof, top functions printed
\`\`\`
`;
}

async function main(): Promise<number> {
  const tmp = mkdtempSync(join(tmpdir(), 'understudy-bench-'));
  const profileDir = join(tmpdir(), `understudy-bench-profiles-${Date.now()}`);
  const flags = profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  if (profile) mkdirSync(profileDir, { recursive: true });
  const raw = new Raw();
  let failed = false;
  let extra = '';
  let tableMd = '';
  try {
    log(`${quick ? 'quick' : 'full'} run, ${plan.rounds} rounds, soak ${plan.soakS} s; logs in ${tmp}`);
    const lab = await startLab(root, tmp, flags);
    const healthy = await startUnderstudy(lab, 'healthy', 'instant');
    await scenario1and2(lab, raw, healthy.target);
    await scenario3(lab, raw, healthy.target);
    await scenario4(lab, raw);
    await scenario5(lab, raw);
    const { samples } = await soak(raw, healthy.target);
    const g = growth(samples);
    tableMd = table(rows(raw, plan, g));
  } catch (err) {
    failed = true;
    console.error(err);
  } finally {
    await stopAll();
  }
  if (profile) {
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: the main thread (0) of each server.
    for (const f of readdirSync(profileDir).sort()) {
      const m = /\.(\d+)\.0\.\d+\.cpuprofile$/.exec(f);
      if (!m) continue;
      const which = understudyPids.get(Number(m[1])) ?? 'unknown';
      const md = summaryMarkdown(summarize(join(profileDir, f), 20));
      extra += `\n### CPU profile of Understudy (primary ${which}: ${f})\n\n${md}\n`;
    }
    log(`CPU profiles in ${profileDir}`);
  }
  if (failed) {
    log(`failed; logs kept in ${tmp}`);
    return 1;
  }
  rmSync(tmp, { recursive: true, force: true });
  const md = withHistory(root, markdown(machine(), tableMd, raw, extra));
  const out =
    args.out ?? (quick ? join(tmpdir(), 'understudy-bench-quick.md') : join(root, 'bench/RESULTS.md'));
  writeFileSync(out, md);
  console.log(`\n${tableMd}\n${extra}`);
  log(`written ${out}`);
  return 0;
}

let interrupted = false;
const onSignal = () => {
  if (interrupted) return;
  interrupted = true;
  log('interrupted: stopping every process');
  void stopAll().finally(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
process.exitCode = await main();
