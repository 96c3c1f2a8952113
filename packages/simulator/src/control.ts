/** The `/_sim/*` control endpoints: faults, attempt log and reset over HTTP (for demos and other processes). */
import { FaultRuleError } from './faults.js';
import type { AttemptFilter, Simulator } from './types.js';

/** The simulator plus rule intake for untrusted JSON (validated by the fault store). */
export interface ControlTarget extends Simulator {
  addRule(input: unknown): string;
}

/** A control response. */
export interface ControlResult {
  status: number;
  body: unknown;
}

const notFound = (path: string): ControlResult => ({
  status: 404,
  body: { error: { message: `no control endpoint ${path}` } },
});

function addFault(sim: ControlTarget, bodyText: string): ControlResult {
  let input: unknown;
  try {
    input = JSON.parse(bodyText);
  } catch {
    return { status: 400, body: { error: { message: 'body must be JSON' } } };
  }
  try {
    const id = sim.addRule(input);
    return { status: 201, body: { id, rule: sim.faults().find((r) => r.id === id) } };
  } catch (err) {
    if (err instanceof FaultRuleError) return { status: 400, body: { error: { message: err.message } } };
    throw err;
  }
}

/** Handles one control request; `bodyText` is the raw request body. */
export function handleControl(
  sim: ControlTarget,
  method: string,
  path: string,
  query: URLSearchParams,
  bodyText: string,
): ControlResult {
  if (path === '/_sim/health' && method === 'GET') return { status: 200, body: { ok: true } };
  if (path === '/_sim/faults') {
    if (method === 'GET') return { status: 200, body: { faults: sim.faults() } };
    if (method === 'POST') return addFault(sim, bodyText);
    if (method === 'DELETE') {
      const cleared = sim.faults().length;
      sim.clearFaults();
      return { status: 200, body: { cleared } };
    }
  }
  if (path.startsWith('/_sim/faults/') && method === 'DELETE') {
    const id = decodeURIComponent(path.slice('/_sim/faults/'.length));
    return sim.removeFault(id) ? { status: 200, body: { removed: id } } : notFound(path);
  }
  if (path === '/_sim/attempts') {
    if (method === 'GET') {
      const filter: AttemptFilter = {};
      const model = query.get('model');
      const provider = query.get('provider');
      if (model) filter.model = model;
      if (provider) filter.provider = provider;
      return { status: 200, body: { attempts: sim.attempts(filter) } };
    }
    if (method === 'DELETE') {
      sim.clearAttempts();
      return { status: 200, body: { ok: true } };
    }
  }
  if (path === '/_sim/reset' && method === 'POST') {
    sim.reset();
    return { status: 200, body: { ok: true } };
  }
  return notFound(path);
}
