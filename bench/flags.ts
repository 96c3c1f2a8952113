/**
 * A/B of node flags, or of builds, for Understudy: one instance per variant, the same 50-connection
 * load as scenario 2, interleaved rounds; prints requests/s, CPU per request and peak RSS per round
 * and their medians. Each argument is one variant: node flags (space-separated; "" is `npm start` as
 * it is), and optionally `bundle=FILE`, another build of scripts/start.ts to run instead of this
 * tree's (made with `node scripts/build.mjs scripts/start.ts dist/ab/base.mjs` at another commit;
 * keep it under dist/ so its external packages resolve), and `env:NAME=VALUE` words for its
 * environment (allocator settings, say). KIND sets the primary's behaviour;
 * LATENCY=1 adds, each round, the p50 of one request at a time (SECONDS long) to the figures.
 *
 *   ROUNDS=5 SECONDS=8 npx tsx bench/flags.ts "" "--heap-growing-percent=0"
 *   KIND=refused LATENCY=1 npx tsx bench/flags.ts "" "bundle=dist/ab/base.mjs"
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { costedThroughput, sequentialLatency, throughput, type Target } from './lib/load.js';
import { stopAll } from './lib/procs.js';
import { median, percentile } from './lib/stats.js';
import { startLab, startUnderstudy, type PrimaryKind } from './lib/systems.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const variants = process.argv.slice(2);
const rounds = Number(process.env.ROUNDS ?? 5);
const seconds = Number(process.env.SECONDS ?? 8);
const latency = process.env.LATENCY === '1';
const kinds: readonly PrimaryKind[] = ['healthy', 'e503', 'refused'];
const kind = kinds.find((k) => k === (process.env.KIND ?? 'healthy'));
if (variants.length === 0 || !kind || !(rounds > 0) || !(seconds > 0) || rounds > 50 || seconds > 120) {
  console.error(
    'usage: [ROUNDS=5] [SECONDS=8] [KIND=healthy|e503|refused] npx tsx bench/flags.ts "flags A" "flags B [bundle=FILE]" ...',
  );
  process.exit(2);
}

interface Figures {
  p50Ms: number[];
  p99Ms: number[];
  rps: number[];
  cpuUs: number[];
  rssMiB: number[];
}

const tmp = mkdtempSync(join(tmpdir(), 'understudy-flags-'));
try {
  const lab = await startLab(root, tmp, []);
  const systems: { flags: string; target: Target; figures: Figures }[] = [];
  const ownBundle = lab.understudyBundle;
  for (const flags of variants) {
    const words = flags.split(' ').filter(Boolean);
    const bundle = words.find((w) => w.startsWith('bundle='))?.slice('bundle='.length);
    lab.understudyEnv = Object.fromEntries(
      words
        .filter((w) => w.startsWith('env:'))
        .map((w) => {
          const [name = '', ...value] = w.slice('env:'.length).split('=');
          return [name, value.join('=')];
        }),
    );
    lab.understudyFlags = words.filter((w) => !w.startsWith('bundle=') && !w.startsWith('env:'));
    lab.understudyBundle = bundle ? resolve(root, bundle) : ownBundle;
    const { target } = await startUnderstudy(lab, kind, 'instant');
    systems.push({ flags, target, figures: { p50Ms: [], p99Ms: [], rps: [], cpuUs: [], rssMiB: [] } });
  }
  for (const s of systems) await throughput(s.target, 50, 2); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 === 0 ? systems : [...systems].reverse()) {
      if (latency) {
        const { samples } = await sequentialLatency(s.target, seconds * 1000);
        const [p50, p99] = [percentile(samples, 0.5), percentile(samples, 0.99)];
        s.figures.p50Ms.push(p50);
        s.figures.p99Ms.push(p99);
        console.log(
          `round ${r + 1} [${s.flags}]: latency p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms, one request at a time`,
        );
      }
      const res = await costedThroughput(s.target, 50, seconds);
      const cpuUs = res.cpuMsPerRequest * 1000;
      const peak = res.peakRssMiB;
      s.figures.rps.push(res.rps);
      s.figures.cpuUs.push(cpuUs);
      s.figures.rssMiB.push(peak);
      console.log(
        `round ${r + 1} [${s.flags}]: ${res.rps.toFixed(0)} req/s, ${res.errors} errors, ` +
          `CPU ${cpuUs.toFixed(0)} µs/request, peak RSS ${peak.toFixed(0)} MiB`,
      );
    }
  }
  for (const { flags, figures: f } of systems) {
    const lat = latency
      ? `latency p50 ${median(f.p50Ms).toFixed(3)} ms, p99 ${median(f.p99Ms).toFixed(3)} ms, `
      : '';
    console.log(
      `median [${flags}]: ${lat}${median(f.rps).toFixed(0)} req/s, CPU ${median(f.cpuUs).toFixed(0)} µs/request, ` +
        `peak RSS ${median(f.rssMiB).toFixed(0)} MiB (max ${Math.max(...f.rssMiB).toFixed(0)})`,
    );
  }
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}
