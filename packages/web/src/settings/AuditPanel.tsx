import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { admin } from '../api/endpoints.js';
import type { AuditEntry } from '../api/types.js';
import { CardTableHead } from '../ui/CardTable.js';
import { ErrorText } from '../ui/ErrorText.js';
import { onCatchUp } from '../ui/tabReturn.js';
import { auditActionLabel } from './auditActions.js';
import { auditChange, auditTarget, type ChangeLine } from './auditChanges.js';
import { withNewest, withOlder, type ShownLog } from './auditPages.js';

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

/** The "What" column's target on its own line under the action: its label, the id in a tooltip. */
function Target({ entry }: { entry: AuditEntry }) {
  const { text, title } = auditTarget(entry);
  if (!text) return null;
  return (
    <div className="muted small" title={title}>
      {text}
    </div>
  );
}

/** Where a catch-up found the newest row shown, to keep it where it was once rows go above it. */
interface Anchor {
  id: string;
  top: number;
}

/**
 * The audit log: who changed what setting, when, old → new; older pages on request. While open it
 * catches up on the tab's shared timer and at each tab return (a change made in another tab shows
 * without reopening the page): only the first page is read again, and what is new goes on top,
 * keeping the older pages the reader opened and the row they were reading where it was.
 */
export function AuditPanel() {
  const [log, setLog] = useState<ShownLog>();
  const [error, setError] = useState<string>();
  // Whether "Show older entries" appended a page: the end of the log is then announced.
  const [openedOlder, setOpenedOlder] = useState(false);
  const [loading, setLoading] = useState(false);
  const [olderError, setOlderError] = useState<string>();
  const end = useRef<HTMLParagraphElement>(null);
  const body = useRef<HTMLTableSectionElement>(null);
  const anchor = useRef<Anchor>(undefined);
  const entries = log?.entries ?? [];
  const next = log?.next ?? null;
  const reachedEnd = openedOlder && next === null;
  // The button goes away with the last page: the focus moves to the line that replaces it.
  useEffect(() => {
    if (reachedEnd) end.current?.focus();
  }, [reachedEnd]);

  useEffect(() => {
    let live = true;
    const readNewest = async () => {
      try {
        const fresh = await admin.audit();
        if (!live) return;
        // Scrolled down, the reader is reading a row: rows put above it must not move it away
        // (browsers without scroll anchoring would). At the top, the new rows are what to see.
        const first = body.current?.querySelector<HTMLElement>('tr[data-id]');
        anchor.current =
          first?.dataset.id && window.scrollY > 0
            ? { id: first.dataset.id, top: first.getBoundingClientRect().top }
            : undefined;
        setLog((shown) => (shown ? withNewest(shown, fresh) : { entries: fresh.entries, next: fresh.next }));
        setError(undefined);
      } catch (e) {
        if (live) setError(e instanceof Error ? e.message : String(e));
      }
    };
    void readNewest();
    const stop = onCatchUp(() => void readNewest());
    return () => {
      live = false;
      stop();
    };
  }, []);

  useLayoutEffect(() => {
    const a = anchor.current;
    anchor.current = undefined;
    if (!a) return;
    const row = body.current?.querySelector<HTMLElement>(`tr[data-id="${CSS.escape(a.id)}"]`);
    // Where the browser already kept the row in place (scroll anchoring), the shift is 0.
    const shift = row ? row.getBoundingClientRect().top - a.top : 0;
    if (shift !== 0) window.scrollBy(0, shift);
  }, [log]);

  const showOlder = async () => {
    if (!next || loading) return;
    setLoading(true);
    setOlderError(undefined);
    try {
      const page = await admin.audit(next);
      setLog((shown) => shown && withOlder(shown, next, page));
      setOpenedOlder(true);
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
          <tbody role="rowgroup" ref={body}>
            {entries.map((e) => (
              <tr key={e.id} role="row" data-id={e.id}>
                <td role="cell" className="nowrap">
                  {new Date(e.at).toLocaleString()}
                </td>
                <td role="cell" data-label="Who">
                  {e.actor.label}
                </td>
                <td role="cell" data-label="What" className="what">
                  {/* The code in the tooltip: it is what the API and its scripts know the action by. */}
                  <span title={e.action}>{auditActionLabel(e.action)}</span>
                  <Target entry={e} />
                </td>
                <td role="cell" data-label="Old → new" className="change small">
                  <Change action={e.action} old={e.old} new={e.new} />
                </td>
              </tr>
            ))}
            {log?.entries.length === 0 && (
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
