/** Public types of the provider simulator: options, fault rules, attempt records. */

/** Every fault the simulator can inject, on every protocol. */
export const FAULT_NAMES = [
  'rate_limit',
  'server_error',
  'bad_gateway',
  'unavailable',
  'gateway_timeout',
  'overloaded',
  'overloaded_midstream',
  'server_error_midstream',
  'rate_limit_midstream',
  'unauthorized',
  'payment_required',
  'forbidden',
  'not_found',
  'reset',
  'no_response',
  'no_first_token',
  'slow_first_token',
  'cut_after',
  'stall_after',
  'malformed',
  'no_done',
  'context_length',
  'content_filter',
  'reject_prefill',
  'bad_request',
  'refusal',
  'flap',
] as const;

/** Name of an injectable fault. */
export type FaultName = (typeof FAULT_NAMES)[number];

/** The wire protocols the simulator speaks. */
export type ProtocolName = 'openai' | 'azure' | 'anthropic' | 'gemini';

/** A fault to inject into matching attempts. */
export interface FaultRule {
  id?: string;
  /** Provider name (the `/p/<name>` prefix; `default` without one). Omitted: any provider. */
  provider?: string;
  /** Base model name (without `+` options) or the full requested name. Omitted: any model. */
  model?: string;
  fault: FaultName;
  /** Content tokens streamed before a mid-stream fault (cut/stall/malformed/*_midstream). Default 0. */
  after?: number;
  /** Seconds for the `Retry-After` header; sent only when given. */
  retryAfter?: number;
  /** slow_first_token: wait before the first token (default 2000). Other faults: wait before acting. */
  delayMs?: number;
  /** Apply to the next N matching attempts, then the rule is removed. */
  times?: number;
  /** Active for this long from when it was set, then removed (flap default: 5000). */
  durationMs?: number;
  /** no_done: whether the finish_reason / stop_reason chunk is still sent (default true). */
  withFinish?: boolean;
  /** context_length: only fail when the input has more tokens than this. */
  contextWindow?: number;
  /** flap: the fault while down (default `unavailable`). */
  down?: Exclude<FaultName, 'flap'>;
}

/** One request to a protocol endpoint, as the simulator saw and answered it. */
export interface AttemptRecord {
  seq: number;
  provider: string;
  /** Base model name, without `+` options. */
  model: string;
  requestedModel: string;
  protocol: ProtocolName;
  stream: boolean;
  startedAt: number;
  headersAt?: number;
  firstTokenAt?: number;
  endedAt?: number;
  status?: number;
  /** The fault actually applied (a flap records its `down` fault; a conditional fault that did not trigger is absent). */
  fault?: FaultName;
  tokensSent: number;
  prefill: boolean;
  continuation: boolean;
  /** The client closed the connection before the simulator finished the response. */
  clientAborted: boolean;
  /** `rejected`: the simulator itself refused the request (missing auth, invalid body, unknown model option). */
  outcome: 'ok' | 'fault' | 'aborted' | 'open' | 'rejected';
}

/** How to start a simulator. */
export interface SimulatorOptions {
  /** Default 0 (an ephemeral port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Pause between streamed chunks. Default 0. */
  chunkDelayMs?: number;
  /** Words in a healthy answer. Default 24. */
  answerTokens?: number;
  /** Keep the attempt log. Default true; benchmarks turn it off. */
  logAttempts?: boolean;
}

/** Filter for the attempt log. */
export interface AttemptFilter {
  model?: string;
  provider?: string;
}

/** The simulator's client connections at one moment. */
export interface SocketCounts {
  /** TCP connections open: busy, or idle in a client's keep-alive pool. */
  open: number;
  /** Chat responses still in progress (hung, streaming or stalled), each holding one open connection. */
  active: number;
}

/** A running simulator. */
export interface Simulator {
  /** Base URL, e.g. http://127.0.0.1:43123 (no trailing slash). */
  url: string;
  port: number;
  /** Adds a rule (validated; throws on bad input) and returns its id. */
  setFault(rule: FaultRule): string;
  /** Removes one rule; false when no rule has that id. */
  removeFault(id: string): boolean;
  /** The active rules, most recent last. */
  faults(): FaultRule[];
  clearFaults(): void;
  attempts(filter?: AttemptFilter): AttemptRecord[];
  clearAttempts(): void;
  /** Client connections now; with `active` 0, every open one is a client's idle keep-alive socket. */
  sockets(): SocketCounts;
  /** Clears faults, attempts and model-name flap timers. */
  reset(): void;
  /** Stops listening and destroys every open socket, hung requests included. */
  close(): Promise<void>;
}
