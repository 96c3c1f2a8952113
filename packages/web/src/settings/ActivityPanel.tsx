import { useCallback } from 'react';
import { admin } from '../api/endpoints.js';
import type { FallbackEvent } from '../api/types.js';
import { reasonWords } from '../chat/reasons.js';
import { ErrorText } from '../ui/ErrorText.js';
import { FallbackChart } from './FallbackChart.js';
import { usePolling } from './usePolling.js';

const DAYS = 14;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The latency of one answer, or the mean and max of coalesced ones. */
function latency(e: FallbackEvent): string {
  if (e.latencyMs === null) return '—';
  if (e.count <= 1) return seconds(e.latencyMs);
  return `${seconds(e.latencyMs)} mean, ${seconds(e.latencyMaxMs ?? e.latencyMs)} max`;
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
 * Fallback activity: a chart of fallbacks per provider per day, then the recent events. Refreshes
 * live. Identical API fallbacks close together arrive as one event of `count` answers: it shows
 * "×N" (read as "N answers") and the mean and max latency; the chart counts answers, not events.
 */
export function ActivityPanel() {
  const load = useCallback(() => admin.activity(DAYS), []);
  const { data, error } = usePolling(load, 5000);
  return (
    <section aria-labelledby="activity-title">
      <h1 id="activity-title">Fallback activity</h1>
      <ErrorText message={error} />
      {data && (
        <>
          <h2>Fallbacks per provider per day</h2>
          <FallbackChart counts={data.countsByDay} days={DAYS} />
          <h2>Recent fallbacks</h2>
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Mate</th>
                  <th scope="col">Original model (provider)</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Backup</th>
                  <th scope="col">Latency</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {data.events.map((e) => (
                  <tr key={e.id}>
                    <td className="nowrap">
                      {new Date(e.at).toLocaleString()} <AnswerCount e={e} />
                    </td>
                    <td>{e.mate?.name ?? (e.surface === 'api' ? 'API' : '—')}</td>
                    <td>
                      {e.originalModel} ({e.originalProvider})
                    </td>
                    <td>{reasonWords(e.reason)}</td>
                    <td>{e.backupModel ? `${e.backupModel} (${e.backupProvider ?? '?'})` : 'none'}</td>
                    <td>{latency(e)}</td>
                    <td>{e.outcome}</td>
                  </tr>
                ))}
                {data.events.length === 0 && (
                  <tr>
                    <td colSpan={7} className="muted">
                      No fallbacks recorded.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
