import { admin } from '../api/endpoints.js';
import { ErrorText } from '../ui/ErrorText.js';
import { useAsync } from '../ui/useAsync.js';
import { auditChange, type ChangeLine } from './auditChanges.js';

/** One line of a change: "key: old → new", or only the side there is. */
function Line({ line }: { line: ChangeLine }) {
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
function Change({ old: before, new: after }: { old: unknown; new: unknown }) {
  const c = auditChange(before, after);
  if (c.side === 'none') return <span className="muted">—</span>;
  if (c.lines.length === 0) return <span className="muted">No change</span>;
  return (
    <>
      {c.side !== 'both' && <div className="muted small">{c.side === 'new' ? 'New:' : 'Old:'}</div>}
      <ul className="changes">
        {c.lines.map((l, i) => (
          <Line key={l.key ?? i} line={l} />
        ))}
      </ul>
    </>
  );
}

/** The audit log: who changed what setting, when, old → new. */
export function AuditPanel() {
  const { data, error } = useAsync(admin.audit);
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <ErrorText message={error} />
      <div className="table-wrap">
        <table className="table audit-table">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">What</th>
              <th scope="col">Old → new</th>
            </tr>
          </thead>
          <tbody>
            {data?.map((e) => (
              <tr key={e.id}>
                <td className="nowrap">{new Date(e.at).toLocaleString()}</td>
                <td>{e.actor.label}</td>
                <td>
                  {e.action}
                  {e.targetId && <span className="muted small"> {e.targetId}</span>}
                </td>
                <td className="change small">
                  <Change old={e.old} new={e.new} />
                </td>
              </tr>
            ))}
            {data?.length === 0 && (
              <tr>
                <td colSpan={4} className="muted">
                  Nothing yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
