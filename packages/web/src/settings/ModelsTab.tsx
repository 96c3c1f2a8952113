import { useEffect, useRef, useState } from 'react';
import { admin } from '../api/endpoints.js';
import type { AdminModel } from '../api/types.js';
import { CardTableHead } from '../ui/CardTable.js';
import { ErrorText } from '../ui/ErrorText.js';
import { Link } from '../ui/Link.js';
import { useAsync } from '../ui/useAsync.js';
import { AddModelForm } from './AddModelForm.js';
import { ModelFactsForm } from './ModelFactsForm.js';
import { settingsLinkFor } from './refusals.js';

/** Models Management → Models: the available list (enable, disable, reorder, edit facts, add). */
export function ModelsTab() {
  const { data: models, error: loadError, setData } = useAsync(admin.models);
  const [error, setError] = useState<string>();
  // A refusal that names a setting (disabling the Default Model, say): the fix is in Settings,
  // linked with the refusal's settings and model so that tab marks the dropdown to change.
  const [settingsLink, setSettingsLink] = useState<string>();
  const [editing, setEditing] = useState<string>();

  /** Runs a change, showing its refusal; `modelId`: the model it is about (for the Settings link). */
  const run = async (fn: () => Promise<void>, modelId?: string) => {
    setError(undefined);
    setSettingsLink(undefined);
    try {
      await fn();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setSettingsLink(modelId === undefined ? undefined : settingsLinkFor(e, modelId));
    }
  };
  const replace = (m: AdminModel) => setData((ms) => ms?.map((x) => (x.id === m.id ? m : x)));
  // Moving a row moves its buttons in the page, which drops the keyboard focus: it is given back
  // to the moved model's arrow (the other one at either end), and the new place is announced.
  const [moved, setMoved] = useState<{ id: string; by: -1 | 1 }>();
  const [notice, setNotice] = useState<string>();
  const move = (i: number, by: -1 | 1) =>
    run(async () => {
      if (!models) return;
      const next = [...models];
      const [m] = next.splice(i, 1);
      if (!m) return;
      next.splice(i + by, 0, m);
      try {
        await admin.orderModels(next.map((x) => x.id));
      } catch (e) {
        // Another admin added or removed a model since this list loaded: show the list as it is.
        const fresh = await admin.models().catch(() => undefined);
        const ids = (l: AdminModel[]) =>
          l
            .map((x) => x.id)
            .sort()
            .join('\n');
        if (fresh && ids(fresh) !== ids(models)) {
          setData(fresh);
          throw new Error(
            'Not moved: the list of models had changed since this page loaded. Here it is as it is now; try again.',
          );
        }
        throw e;
      }
      setData(next);
      setMoved({ id: m.id, by });
      setNotice(`${m.label} moved to position ${i + by + 1} of ${next.length}.`);
    });

  if (!models) return <ErrorText message={loadError} />;
  return (
    <section aria-labelledby="models-title">
      <h2 id="models-title" className="visually-hidden">
        Models
      </h2>
      <p className="muted">
        The available list, in your order (Automatic fallback uses it to break ties). Disabled models are
        never used.
      </p>
      <ErrorText message={error} />
      {error && settingsLink && (
        <p className="small">
          <Link href={settingsLink}>Change it in Settings</Link>
        </p>
      )}
      <p role="status" className="visually-hidden">
        {notice}
      </p>
      {/* Cards on a phone (see .card-table): explicit roles keep it a table for screen readers. */}
      <table className="table card-table models-table" role="table">
        <CardTableHead columns={['Model', 'Provider', 'Tier', 'Context', 'Enabled']} actions />
        <tbody role="rowgroup">
          {models.map((m, i) => (
            <ModelRow
              key={m.id}
              m={m}
              first={i === 0}
              last={i === models.length - 1}
              editing={editing === m.id}
              focusMove={moved?.id === m.id ? moved : undefined}
              onToggle={() => {
                // The switch moves at once; a refusal puts it back and run() shows why.
                replace({ ...m, enabled: !m.enabled });
                void run(async () => {
                  try {
                    replace(await admin.updateModel(m.id, { enabled: !m.enabled }));
                  } catch (e) {
                    replace(m);
                    throw e;
                  }
                }, m.id);
              }}
              onMove={(by) => move(i, by)}
              onEdit={() => setEditing(editing === m.id ? undefined : m.id)}
              onSave={async (facts) => {
                // A refusal rejects: the form shows it beside its fields.
                replace(await admin.updateModel(m.id, facts));
                setEditing(undefined);
              }}
            />
          ))}
        </tbody>
      </table>
      <AddModelForm
        existingIds={models.map((m) => m.id)}
        onAdded={(m) => setData((ms) => [...(ms ?? []), m])}
      />
    </section>
  );
}

function ModelRow(p: {
  m: AdminModel;
  first: boolean;
  last: boolean;
  editing: boolean;
  /** Set just after this row moved: which arrow gets the focus back. */
  focusMove: { by: -1 | 1 } | undefined;
  onToggle: () => void;
  onMove: (by: -1 | 1) => void;
  onEdit: () => void;
  onSave: (facts: Parameters<typeof admin.updateModel>[1]) => Promise<void>;
}) {
  const { m } = p;
  const up = useRef<HTMLButtonElement>(null);
  const down = useRef<HTMLButtonElement>(null);
  const { focusMove, first, last } = p;
  // Only when a move happened (a new object each time), not when the row merely reaches an end.
  useEffect(() => {
    if (!focusMove) return;
    const towards = focusMove.by < 0 ? (first ? down : up) : last ? up : down;
    towards.current?.focus();
  }, [focusMove]);
  return (
    <>
      <tr role="row" className={m.enabled ? '' : 'disabled-row'}>
        <td role="cell">
          <strong>{m.label}</strong>
          <div className="muted small">
            {m.id}
            {m.capabilities.length > 0 && ` · ${m.capabilities.join(', ')}`}
            {m.tags.length > 0 && ` · ${m.tags.join(', ')}`}
          </div>
        </td>
        <td role="cell" data-label="Provider">
          {m.provider}
        </td>
        <td role="cell" data-label="Tier">
          {m.tier}
        </td>
        <td role="cell" data-label="Context">
          {m.contextWindow?.toLocaleString('en') ?? '—'}
        </td>
        <td role="cell" data-label="Enabled">
          <label className="switch">
            <input type="checkbox" checked={m.enabled} onChange={p.onToggle} />
            <span className="visually-hidden">Enabled: {m.label}</span>
          </label>
        </td>
        <td role="cell" className="actions">
          <button
            type="button"
            className="icon-button"
            ref={up}
            aria-label={`Move ${m.label} up`}
            disabled={p.first}
            onClick={() => p.onMove(-1)}
          >
            ↑
          </button>
          <button
            type="button"
            className="icon-button"
            ref={down}
            aria-label={`Move ${m.label} down`}
            disabled={p.last}
            onClick={() => p.onMove(1)}
          >
            ↓
          </button>
          <button type="button" className="small" aria-expanded={p.editing} onClick={p.onEdit}>
            Edit
          </button>
        </td>
      </tr>
      {p.editing && (
        <tr role="row" className="edit-row">
          <td role="cell" colSpan={6}>
            <ModelFactsForm model={m} onSave={p.onSave} onCancel={p.onEdit} />
          </td>
        </tr>
      )}
    </>
  );
}
