/** Shared by the leak tests (provider cancellation, 1,000 aborted streams): heap and pool readings. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Agent } from 'undici';

/** A real `gc()`: the flag can be set at run time, and a new context then exposes the function. */
export function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Heap in use after full collections, once finalizers and their callbacks have run. */
export async function settledHeap(gc: () => void): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

/** Sums a numeric field over an undici agent's per-origin stats. */
export function poolStat(a: Agent, field: 'connected' | 'running' | 'pending' | 'queued'): number {
  return Object.values(a.stats).reduce((n, st) => {
    // `queued` exists on a pool's stats only, not a single client's.
    const value = field === 'queued' ? ('queued' in st ? st.queued : 0) : st[field];
    return n + Number(value);
  }, 0);
}
