import { useCallback, useEffect, useRef, useState } from 'react';
import { admin } from '../api/endpoints.js';
import type { FallbackEvent } from '../api/types.js';
import { reasonWords } from '../chat/reasons.js';
import { CardTableHead } from '../ui/CardTable.js';
import { ErrorText } from '../ui/ErrorText.js';
import { useOlderPages } from '../ui/useOlderPages.js';
import { modelOnProvider } from './activityNames.js';
import { withNewest, withOlder, type ShownEvents } from './activityPages.js';
import { FallbackChart } from './FallbackChart.js';
import { usePolling } from './usePolling.js';

const DAYS = 14;
const COLUMNS = ['When', 'Mate', 'Original model', 'Reason', 'Backup', 'Latency', 'Outcome'];

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The latency of one answer, or the mean and max of coalesced ones. */
function latency(e: FallbackEvent): string {
  if (e.latencyMs === null) return '—';
  if (e.count <= 1) return seconds(e.latencyMs);
  return `${seconds(e.latencyMs)} mean, ${seconds(e.latencyMaxMs ?? e.latencyMs)} max`;
}

/** A model's label with its provider's below it, smaller ("… on …" for screen readers). */
function ModelName({ model, provider }: { model: string; provider: string | null }) {
  return (
    <>
      {model}
      {provider !== null && (
        <span className="muted small block">
          <span className="visually-hidden">on </span>
          {provider}
        </span>
      )}
    </>
  );
}

/** "×N" for an event that stands for N answers, with words for screen readers and the time span. */
function AnswerCount({ e }: { e: FallbackEvent }) {
  if (e.count <= 1) return null;
  const span = `${e.count} answers from ${new Date(e.firstAt).toLocaleString()} to ${new Date(e.at).toLocaleString()}`;
  return (
    <span className="badge warn" title={span}>
      <span aria-hidden="true">×{e.count}</span>
      <span className="visually-hidden">{e.count} answers</span>
    </span>
  );
}

/**
 * Fallback activity: a chart of fallbacks per provider per day, then the events, newest first, a
 * page at a time back to the first one ("Show older events", or scrolling to it). Refreshes live:
 * new events go on top and the older pages opened stay. Identical API fallbacks close together
 * arrive as one event of `count` answers: it shows "×N" (read as "N answers") and the mean and max
 * latency; the chart counts answers, not events.
 */
export function ActivityPanel() {
  const load = useCallback(() => admin.activity(DAYS), []);
  const { data, error } = usePolling(load, 5000);
  const [shown, setShown] = useState<ShownEvents>();
  const [olderError, setOlderError] = useState<string>();
  // Whether an older page was appended: the end of the list is then said.
  const [openedOlder, setOpenedOlder] = useState(false);
  const body = useRef<HTMLTableSectionElement>(null);
  useEffect(() => {
    if (data) setShown((s) => withNewest(s, data));
  }, [data]);
  const next = shown?.next ?? null;
  // Clicked or scrolled to, the end of the list shows the older events.
  const { olderRef, showOlder } = useOlderPages(
    async () => {
      if (!next) return undefined;
      setOlderError(undefined);
      try {
        const page = await admin.activity(DAYS, next);
        setShown((s) => s && withOlder(s, next, page));
        setOpenedOlder(true);
        return page.events[0]?.id;
      } catch (e) {
        setOlderError(e instanceof Error ? e.message : String(e));
        return undefined;
      }
    },
    (id) => body.current?.querySelector<HTMLElement>(`tr[data-id="${CSS.escape(id)}"]`)?.focus(),
    shown,
  );
  return (
    <section aria-labelledby="activity-title">
      <h1 id="activity-title">Fallback activity</h1>
      <ErrorText message={error} />
      {data && (
        <>
          <h2>Fallbacks per provider per day</h2>
          <FallbackChart counts={data.countsByDay} days={DAYS} known={data.providers} />
          <h2>Fallbacks, newest first</h2>
          <div className="table-wrap">
            {/* Cards on a phone (see .card-table): explicit roles keep it a table for screen
                readers. */}
            <table className="table card-table" role="table">
              <CardTableHead columns={COLUMNS} />
              <tbody role="rowgroup" ref={body}>
                {(shown?.events ?? data.events).map((e) => (
                  <tr key={e.id} role="row" data-id={e.id} tabIndex={-1}>
                    <td role="cell" className="nowrap">
                      {new Date(e.at).toLocaleString()} <AnswerCount e={e} />
                    </td>
                    <td role="cell" data-label="Mate">
                      {e.mate?.name ?? (e.surface === 'api' ? 'API' : '—')}
                    </td>
                    <td role="cell" data-label="Original">
                      <ModelName {...modelOnProvider(data, e.originalModel, e.originalProvider)} />
                    </td>
                    <td role="cell" data-label="Reason">
                      {reasonWords(e.reason)}
                    </td>
                    <td role="cell" data-label="Backup">
                      {e.backupModel ? (
                        <ModelName {...modelOnProvider(data, e.backupModel, e.backupProvider)} />
                      ) : (
                        'none'
                      )}
                    </td>
                    <td role="cell" data-label="Latency">
                      {latency(e)}
                    </td>
                    <td role="cell" data-label="Outcome">
                      {e.outcome}
                    </td>
                  </tr>
                ))}
                {shown?.events.length === 0 && (
                  <tr role="row">
                    <td role="cell" colSpan={COLUMNS.length} className="muted">
                      No fallbacks recorded.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <ErrorText message={olderError} />
          {next && (
            // Keyed by its page: a new button is observed afresh, so one still in view loads the next.
            <p key={next}>
              <button type="button" ref={olderRef} onClick={() => void showOlder()}>
                Show older events
              </button>
            </p>
          )}
          {openedOlder && next === null && (
            <p className="muted small">No older events: this is the first one recorded.</p>
          )}
        </>
      )}
    </section>
  );
}
