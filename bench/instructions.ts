/**
 * Instructions per request: Understudy's server (or the limit proxy) run under `valgrind
 * --tool=callgrind`, sent a fixed number of warm-up requests and then a fixed number of measured
 * ones, one at a time, by this process (the load generator is not measured: it is another
 * process). Callgrind's counters are zeroed after the warm-up and dumped after the measured
 * requests, so the count covers exactly those requests (and whatever the server's timers did
 * meanwhile). Unlike CPU time, an instruction count does not depend on the processor's speed or the
 * machine's load, so two builds can be compared on a busy machine; it still varies with the JIT's
 * and the GC's timing: four runs of this tree (healthy, defaults) counted 0.97 to 1.12 million
 * instructions per request, up to 13 % apart (the limit's two runs 3 %), so a difference below
 * ~15 % needs REPEAT and medians. It counts user-space instructions of every thread of the server
 * (the kernel's share, sockets and syscalls, is not counted).
 *
 *   npx tsx bench/instructions.ts [healthy|e503|refused] [limit] [bundle ...]
 *   npx tsx bench/instructions.ts healthy limit dist/bench/understudy.mjs   # Understudy beside the limit
 *   KIND=refused WARMUP=2000 MEASURED=3000 REPEAT=2 npx tsx bench/instructions.ts dist/ab/head.mjs dist/ab/base.mjs
 *
 * `limit` measures the limit proxy (bench/limit-proxy.ts) the same way. With no bundle, this tree
 * is built (scripts/build.mjs) and measured too. Node runs with `--single-threaded` (no concurrent
 * compiler or GC threads: which thread does the work, and when, would otherwise depend on
 * valgrind's scheduling) unless NODE_FLAGS says otherwise. Slow: valgrind runs node some 30-50
 * times slower; 2,000 + 3,000 requests take 3-5 minutes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { chatBody, type Target } from './lib/load.js';
import { stopAll } from './lib/procs.js';
import { limitTarget, startLimit, startSimLab, startUnderstudy, type PrimaryKind } from './lib/systems.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kinds: readonly PrimaryKind[] = ['healthy', 'e503', 'refused'];
const args = process.argv.slice(2);
const kind = kinds.find(
  (k) => k === (args.find((a) => kinds.includes(a as PrimaryKind)) ?? process.env.KIND ?? 'healthy'),
);
// `limit` is the limit proxy (bench/limit-proxy.ts); anything else an Understudy bundle.
const variantArgs = args
  .filter((a) => !kinds.includes(a as PrimaryKind))
  .map((b) => (b === 'limit' ? b : resolve(root, b)));
const warmup = Number(process.env.WARMUP ?? 2000);
const measured = Number(process.env.MEASURED ?? 3000);
const repeat = Number(process.env.REPEAT ?? 1);
const nodeFlags = (process.env.NODE_FLAGS ?? '--single-threaded').split(' ').filter(Boolean);
if (!kind || !(warmup >= 0) || !(measured > 0) || !(repeat >= 1)) {
  console.error(
    'usage: [KIND=healthy|e503|refused] [WARMUP=2000] [MEASURED=3000] [REPEAT=1] npx tsx bench/instructions.ts [limit] [bundle ...]',
  );
  process.exit(2);
}

/** `n` requests one at a time on one keep-alive connection; throws on any answer but a 200. */
async function send(client: Client, t: Target, n: number): Promise<void> {
  const u = new URL(t.url);
  const body = chatBody(t, false);
  const headers = { ...t.headers, 'content-type': 'application/json' };
  for (let i = 0; i < n; i++) {
    const r = await client.request({ path: u.pathname, method: 'POST', headers, body });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`request ${i}: ${r.statusCode} ${text.slice(0, 200)}`);
  }
}

/**
 * Tells the callgrind of `pid` to zero (-z) or dump (-d) its counters, and waits for it. Valgrind
 * names its vgdb pipes after the environment's USER and HOST: callgrind_control is given the
 * measured process's (no USER; HOST as `host`: Understudy's listening address, none for the limit).
 */
function control(what: '-z' | '-d', pid: number, host: string | undefined): void {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  if (host !== undefined) env.HOST = host;
  const out = execFileSync('callgrind_control', [`--vgdb-prefix=${vgdbPrefix}`, what, String(pid)], {
    env,
    encoding: 'utf8',
  });
  if (!/OK/.test(out) || /error/i.test(out)) throw new Error(`callgrind_control ${what}: ${out}`);
}

/** The total of a callgrind dump (its `totals:` or `summary:` line). */
function totalOf(file: string): number {
  const m = /^(?:totals|summary): (\d+)/m.exec(readFileSync(file, 'utf8'));
  if (!m) throw new Error(`no totals in ${file}`);
  return Number(m[1]);
}

const tmp = mkdtempSync(join(tmpdir(), 'understudy-instructions-'));
const vgdbPrefix = join(tmp, 'vgdb');
const results: { variant: string; perRequest: number[] }[] = [];
try {
  const firstBundle = variantArgs.find((v) => v !== 'limit');
  const lab = await startSimLab(root, tmp, firstBundle);
  const variants = firstBundle ? variantArgs : [...variantArgs, lab.understudyBundle];
  for (const v of variants) results.push({ variant: v, perRequest: [] });
  /** Starts a variant under `wrapper`: its pid, the target to send to, and how to stop it. */
  const startVariant = async (variant: string, wrapper: string[]) => {
    if (variant === 'limit') {
      const limit = await startLimit(root, tmp, nodeFlags, wrapper);
      return { proc: limit, host: undefined, target: limitTarget({ ...lab, limit }, kind, 'instant') };
    }
    lab.understudyBundle = variant;
    lab.understudyFlags = nodeFlags;
    lab.understudyWrapper = wrapper;
    const u = await startUnderstudy(lab, kind, 'instant');
    return { proc: u.proc, host: '127.0.0.1', target: u.target };
  };
  for (let r = 0; r < repeat; r++) {
    for (const res of r % 2 === 0 ? results : [...results].reverse()) {
      const out = join(tmp, `cg-${results.indexOf(res)}-${r}`);
      mkdirSync(out);
      const u = await startVariant(res.variant, [
        'valgrind',
        '--tool=callgrind',
        `--vgdb-prefix=${vgdbPrefix}`,
        `--callgrind-out-file=${join(out, 'callgrind.out')}`,
      ]);
      const client = new Client(new URL(u.target.url).origin, { pipelining: 1, keepAliveTimeout: 600_000 });
      try {
        await send(client, u.target, warmup);
        control('-z', u.proc.pid, u.host);
        await send(client, u.target, measured);
        control('-d', u.proc.pid, u.host);
      } finally {
        await client.close();
      }
      const dumps = readdirSync(out).filter((f) => /^callgrind\.out\.\d+$/.test(f));
      if (dumps.length !== 1) throw new Error(`expected one dump in ${out}, found ${dumps.join(', ')}`);
      const dump = join(out, dumps[0] ?? '');
      const perRequest = totalOf(dump) / measured;
      res.perRequest.push(perRequest);
      console.log(
        `${kind} [${res.variant}] run ${r + 1}: ${Math.round(perRequest).toLocaleString('en')} instructions per request` +
          ` (${warmup} warm-up, ${measured} measured)`,
      );
      await u.proc.stop();
    }
  }
  for (const res of results) {
    const runs = res.perRequest.map((x) => Math.round(x).toLocaleString('en')).join(', ');
    console.log(`${kind} [${res.variant}]: ${runs} instructions per request`);
  }
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}
