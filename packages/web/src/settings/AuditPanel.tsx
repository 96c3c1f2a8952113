import { useEffect, useRef, useState } from 'react';
import { admin } from '../api/endpoints.js';
import type { AuditPage } from '../api/types.js';
import { CardTableHead } from '../ui/CardTable.js';
import { ErrorText } from '../ui/ErrorText.js';
import { useAsync } from '../ui/useAsync.js';
import { auditChange, type ChangeLine } from './auditChanges.js';

const COLUMNS = ['When', 'Who', 'What', 'Old → new'];

/** One line of a change: a sentence, or "key: old → new", or only the side there is. */
function Line({ line }: { line: ChangeLine }) {
  if (line.note !== undefined) return <li>{line.note}</li>;
  return (
    <li>
      {line.key !== undefined && <span className="change-key">{line.key}: </span>}
      {line.old !== undefined && <span className="change-old">{line.old}</span>}
      {line.old !== undefined && line.new !== undefined && ' → '}
      {line.new !== undefined && <span className="change-new">{line.new}</span>}
    </li>
  );
}

/** An entry's old → new as readable lines (see auditChanges.ts), wrapping long values. */
function Change({ action, old: before, new: after }: { action: string; old: unknown; new: unknown }) {
  const c = auditChange(before, after, action);
  if (c.side === 'none') return <span className="muted">—</span>;
  if (c.lines.length === 0) return <span className="muted">No change</span>;
  return (
    <>
      {(c.side === 'new' || c.side === 'old') && (
        <div className="muted small">{c.side === 'new' ? 'New:' : 'Old:'}</div>
      )}
      <ul className="changes">
        {c.lines.map((l, i) => (
          <Line key={l.key ?? i} line={l} />
        ))}
      </ul>
    </>
  );
}

/** The audit log: who changed what setting, when, old → new; older pages on request. */
export function AuditPanel() {
  const { data, error } = useAsync(() => admin.audit());
  // Pages fetched with "Show older entries", appended in order below the first.
  const [older, setOlder] = useState<AuditPage[]>([]);
  const [loading, setLoading] = useState(false);
  const [olderError, setOlderError] = useState<string>();
  const end = useRef<HTMLParagraphElement>(null);
  const pages = data ? [data, ...older] : [];
  const entries = pages.flatMap((p) => p.entries);
  const next = pages.at(-1)?.next ?? null;
  const reachedEnd = older.length > 0 && next === null;
  // The button goes away with the last page: the focus moves to the line that replaces it.
  useEffect(() => {
    if (reachedEnd) end.current?.focus();
  }, [reachedEnd]);

  const showOlder = async () => {
    if (!next || loading) return;
    setLoading(true);
    setOlderError(undefined);
    try {
      const page = await admin.audit(next);
      setOlder((o) => [...o, page]);
    } catch (e) {
      setOlderError(e instanceof Error ? e.message : String(e));
    } finally {
      setLoading(false);
    }
  };

  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <ErrorText message={error} />
      <div className="table-wrap">
        {/* Cards on a phone (see .card-table): four columns in 390 px left the changes a column
            a few letters wide, off the screen. Explicit roles keep it a table for screen readers. */}
        <table className="table audit-table card-table" role="table">
          <CardTableHead columns={COLUMNS} />
          <tbody role="rowgroup">
            {entries.map((e) => (
              <tr key={e.id} role="row">
                <td role="cell" className="nowrap">
                  {new Date(e.at).toLocaleString()}
                </td>
                <td role="cell" data-label="Who">
                  {e.actor.label}
                </td>
                <td role="cell" data-label="What">
                  {e.action}
                  {(e.targetLabel ?? e.targetId) && (
                    <span
                      className="muted small"
                      title={e.targetLabel ? (e.targetId ?? undefined) : undefined}
                    >
                      {' '}
                      {e.targetLabel ?? e.targetId}
                    </span>
                  )}
                </td>
                <td role="cell" data-label="Old → new" className="change small">
                  <Change action={e.action} old={e.old} new={e.new} />
                </td>
              </tr>
            ))}
            {data?.entries.length === 0 && (
              <tr role="row">
                <td role="cell" colSpan={COLUMNS.length} className="muted">
                  Nothing yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <ErrorText message={olderError} />
      {next && (
        <p>
          {/* aria-disabled, not disabled: a disabled button drops the keyboard focus mid-click. */}
          <button type="button" onClick={() => void showOlder()} aria-disabled={loading}>
            Show older entries
          </button>
        </p>
      )}
      {reachedEnd && (
        <p className="muted small" ref={end} tabIndex={-1}>
          No older entries: this is the start of the log.
        </p>
      )}
    </section>
  );
}
