/** Undoing a failed start: what it had opened is closed again, within a bound, so the process can end. */
import type { Logger } from 'pino';

/** Something a start opened, closed again when a later step fails. */
export interface Opened {
  what: string;
  close(): Promise<unknown>;
}

/** How long a failed start may take to close what it had opened: it must not hang, only tidy up. */
const UNDO_BOUND_MS = 5_000;

/**
 * Closes what a failed start opened, newest first, within {@link UNDO_BOUND_MS} in all: a database
 * pool, heartbeat, Redis link or simulator left open keeps a dead process alive (and, with the
 * heartbeat, looking alive to its peers).
 */
export async function undoStart(opened: Opened[], log: Logger): Promise<void> {
  const deadline = Date.now() + UNDO_BOUND_MS;
  for (const o of opened.reverse()) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>(
      (r) => (timer = setTimeout(() => r('late'), Math.max(0, deadline - Date.now()))),
    );
    const outcome = await Promise.race([
      o.close().then(
        () => 'closed' as const,
        () => 'failed' as const,
      ),
      late,
    ]);
    clearTimeout(timer);
    if (outcome !== 'closed')
      log.warn(
        `after the failed start, ${o.what} could not be closed (${outcome === 'late' ? 'too slow' : 'error'})`,
      );
  }
}
