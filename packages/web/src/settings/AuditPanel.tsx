import { admin } from '../api/endpoints.js';
import { ErrorText } from '../ui/ErrorText.js';
import { useAsync } from '../ui/useAsync.js';

const show = (v: unknown) => (v === null || v === undefined ? '—' : JSON.stringify(v));

/** The audit log: who changed what setting, when, old → new. */
export function AuditPanel() {
  const { data, error } = useAsync(admin.audit);
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <ErrorText message={error} />
      <div className="table-wrap">
        <table className="table">
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
                <td className="mono small">
                  {show(e.old)} → {show(e.new)}
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
