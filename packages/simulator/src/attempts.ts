/** The attempt log: one record per request to a protocol endpoint, capped to the most recent. */
import type { AttemptFilter, AttemptRecord } from './types.js';

/** Records kept; older ones are dropped. */
export const ATTEMPT_LOG_CAP = 10_000;

/** Fields known when a request arrives. */
export type AttemptStart = Pick<
  AttemptRecord,
  'provider' | 'model' | 'requestedModel' | 'protocol' | 'stream' | 'prefill' | 'continuation'
>;

/** The log of one simulator. Records are live until their exchange ends; readers get copies. */
export class AttemptLog {
  private records: AttemptRecord[] = [];
  private seq = 0;

  constructor(private readonly enabled: boolean) {}

  /** Opens a record (kept only when logging is on, but always returned for the exchange to fill). */
  start(fields: AttemptStart): AttemptRecord {
    const record: AttemptRecord = {
      seq: ++this.seq,
      ...fields,
      startedAt: Date.now(),
      tokensSent: 0,
      clientAborted: false,
      outcome: 'open',
    };
    if (this.enabled) {
      this.records.push(record);
      // Trim in batches so a busy benchmark does not shift the array on every request.
      if (this.records.length > ATTEMPT_LOG_CAP + 500)
        this.records.splice(0, this.records.length - ATTEMPT_LOG_CAP);
    }
    return record;
  }

  /** Snapshot of the records, oldest first, optionally filtered by base model / provider. */
  list(filter: AttemptFilter = {}): AttemptRecord[] {
    const kept = this.records.length > ATTEMPT_LOG_CAP ? this.records.slice(-ATTEMPT_LOG_CAP) : this.records;
    return kept
      .filter(
        (r) => filter.model === undefined || r.model === filter.model || r.requestedModel === filter.model,
      )
      .filter((r) => filter.provider === undefined || r.provider === filter.provider)
      .map((r) => ({ ...r }));
  }

  /** Forgets every record (sequence numbers keep increasing). */
  clear(): void {
    this.records = [];
  }
}
