/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): the functions with the most self time, and self
 * time by package. Usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top]
 *
 * Frames of a bundle (dist/*.mjs, as `npm start` and the benchmark run Understudy) are mapped back
 * to their sources through the bundle's linked `.map`, so packages and functions are named as in
 * the repository.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

/** Where a frame's code comes from: through the script's source map when it has one. */
function sourceLocator(): (cf: CallFrame) => { url: string; line: number } {
  const maps = new Map<string, SourceMap | undefined>();
  const mapOf = (url: string): SourceMap | undefined => {
    if (!maps.has(url)) {
      const file = url.startsWith('file://') ? `${fileURLToPath(url)}.map` : undefined;
      maps.set(
        url,
        file && existsSync(file)
          ? new SourceMap(JSON.parse(readFileSync(file, 'utf8')) as SourceMapPayload)
          : undefined,
      );
    }
    return maps.get(url);
  };
  return (cf) => {
    const entry = mapOf(cf.url)?.findEntry(cf.lineNumber, cf.columnNumber);
    return entry && 'originalSource' in entry
      ? { url: entry.originalSource, line: entry.originalLine }
      : { url: cf.url, line: cf.lineNumber };
  };
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Where a script belongs: a workspace package, an npm package, Node itself, or V8. */
function owner(url: string): string {
  if (url === '') return '(v8/native)';
  if (url.startsWith('node:')) return 'node (core)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? url);
  }
  const ws = /\/packages\/([^/]+)\//.exec(url);
  if (ws) return `@understudy/${ws[1]}`;
  return url;
}

function shortUrl(url: string): string {
  const i = url.indexOf('/packages/');
  if (i >= 0) return url.slice(i + 1);
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  return url.replace(/^file:\/\//, '');
}

export interface ProfileSummary {
  totalMs: number;
  /** Non-idle sampled time. */
  busyMs: number;
  top: { name: string; where: string; selfMs: number; pct: number }[];
  byOwner: { owner: string; selfMs: number; pct: number }[];
  /** Understudy's own functions (packages/*) by inclusive time: self plus everything they call. */
  inclusive: { name: string; where: string; totalMs: number; pct: number }[];
}

/** Self time per function and per package of a profile. */
export function summarize(file: string, topN = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    // A sample's time is the delta to the next sample.
    const dt = (deltas[i + 1] ?? 0) / 1000;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const totalMs = (p.endTime - p.startTime) / 1000;
  const locate = sourceLocator();
  const fn = new Map<string, { name: string; where: string; selfMs: number }>();
  const own = new Map<string, number>();
  let busyMs = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') {
      if (name !== '(idle)') busyMs += ms;
      if (name === '(idle)') continue;
    } else busyMs += ms;
    const at = locate(n.callFrame);
    const where = at.url ? `${shortUrl(at.url)}:${at.line + 1}` : '';
    const key = `${name}@${where}`;
    const e = fn.get(key) ?? { name, where, selfMs: 0 };
    e.selfMs += ms;
    fn.set(key, e);
    const o = name.startsWith('(') ? name : owner(at.url);
    own.set(o, (own.get(o) ?? 0) + ms);
  }
  const pct = (ms: number) => (busyMs > 0 ? (100 * ms) / busyMs : 0);
  // Inclusive time of our own functions: walk up from each sample, each function once per stack.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, { name: string; where: string; totalMs: number }>();
  for (const [id, ms] of self) {
    const leaf = byId.get(id);
    if (!leaf || leaf.callFrame.functionName === '(idle)') continue;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n) continue;
      const at = locate(n.callFrame);
      if (!at.url.includes('/packages/') || at.url.includes('node_modules/')) continue;
      const name = n.callFrame.functionName || '(anonymous)';
      const where = `${shortUrl(at.url)}:${at.line + 1}`;
      const key = `${name}@${where}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const e = incl.get(key) ?? { name, where, totalMs: 0 };
      e.totalMs += ms;
      incl.set(key, e);
    }
  }
  return {
    totalMs,
    busyMs,
    top: [...fn.values()]
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, topN)
      .map((e) => ({ ...e, pct: pct(e.selfMs) })),
    byOwner: [...own.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([o, ms]) => ({ owner: o, selfMs: ms, pct: pct(ms) })),
    inclusive: [...incl.values()]
      .sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, topN)
      .map((e) => ({ ...e, pct: pct(e.totalMs) })),
  };
}

/** A summary as Markdown. */
export function summaryMarkdown(s: ProfileSummary, topOwners = 15): string {
  const lines = [
    `Busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms profiled.`,
    '',
    '| self % | self ms | function | where |',
    '|--:|--:|---|---|',
    ...s.top.map((t) => `| ${t.pct.toFixed(1)} | ${t.selfMs.toFixed(0)} | ${t.name} | ${t.where} |`),
    '',
    '| self % | self ms | package |',
    '|--:|--:|---|',
    ...s.byOwner
      .slice(0, topOwners)
      .map((o) => `| ${o.pct.toFixed(1)} | ${o.selfMs.toFixed(0)} | ${o.owner} |`),
    '',
    '| inclusive % | inclusive ms | Understudy function | where |',
    '|--:|--:|---|---|',
    ...s.inclusive.map((t) => `| ${t.pct.toFixed(1)} | ${t.totalMs.toFixed(0)} | ${t.name} | ${t.where} |`),
  ];
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (file === undefined) {
    console.error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  console.log(summaryMarkdown(summarize(file, Number(process.argv[3] ?? 25))));
}
