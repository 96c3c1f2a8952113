import type { FormEvent } from 'react';
import { useState } from 'react';
import { admin, chat } from '../api/endpoints.js';
import type { Mate, ModelsForMembers } from '../api/types.js';
import { ConfirmButton } from '../ui/ConfirmButton.js';
import { ErrorText } from '../ui/ErrorText.js';
import { useAsync } from '../ui/useAsync.js';

function MateForm({
  mate,
  models,
  submit,
  onSubmit,
}: {
  mate?: Mate;
  models: ModelsForMembers;
  submit: string;
  onSubmit: (b: { name: string; instructions: string; model: string | null }) => Promise<boolean>;
}) {
  // A Mate whose model was disabled (say by the config file) keeps it selected, marked, so saving
  // a new name does not quietly move the Mate to another model.
  const stale = mate?.model && !models.models.some((m) => m.id === mate.model) ? mate.model : undefined;
  const handle = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const model = String(f.get('model') ?? '');
    void onSubmit({
      name: String(f.get('name') ?? '').trim(),
      instructions: String(f.get('instructions') ?? ''),
      model: model || null,
    }).then((ok) => ok && !mate && form.reset());
  };
  return (
    <form className="grid-form" onSubmit={handle}>
      <label className="field">
        <span>Name</span>
        <input name="name" required defaultValue={mate?.name} />
      </label>
      <label className="field">
        <span>Model</span>
        <select name="model" defaultValue={mate?.model ?? ''}>
          <option value="">Organization default</option>
          {stale && <option value={stale}>{stale} (unavailable)</option>}
          {models.models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.label}
            </option>
          ))}
        </select>
      </label>
      <label className="field" style={{ gridColumn: '1 / -1' }}>
        <span>Instructions</span>
        <textarea name="instructions" rows={3} defaultValue={mate?.instructions} />
      </label>
      <div>
        <button type="submit" className="primary">
          {submit}
        </button>
      </div>
    </form>
  );
}

/**
 * Mates: create, edit (name, instructions, model or the organization default), remove. Removing a
 * Mate removes every member's conversations with it, so it asks for a confirming second click
 * that says so.
 */
export function MatesPanel() {
  const mates = useAsync(chat.mates);
  const models = useAsync(chat.models);
  const [error, setError] = useState<string>();
  const [editing, setEditing] = useState<string>();
  const run = async (fn: () => Promise<void>): Promise<boolean> => {
    setError(undefined);
    try {
      await fn();
      mates.reload();
      return true;
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      return false;
    }
  };
  if (!mates.data || !models.data) return <ErrorText message={mates.error ?? models.error} />;
  const modelOf = (id: string | null) =>
    id === null ? 'Organization default' : models.data?.models.find((m) => m.id === id)?.label;
  return (
    <section aria-labelledby="mates-title">
      <h1 id="mates-title">Mates</h1>
      <ErrorText message={error} />
      <ul className="provider-list">
        {mates.data.map((m) => (
          <li key={m.id} className="card provider">
            <div className="provider-head">
              <strong>{m.name}</strong>
              {modelOf(m.model) !== undefined ? (
                <span className="muted small">{modelOf(m.model)}</span>
              ) : (
                <span className="error-text small">
                  {m.model} is unavailable: this Mate cannot answer until you choose another model
                </span>
              )}
              <button
                type="button"
                className="small"
                aria-label={`Edit ${m.name}`}
                aria-expanded={editing === m.id}
                onClick={() => setEditing(editing === m.id ? undefined : m.id)}
              >
                Edit
              </button>
              <ConfirmButton
                label={`Remove ${m.name}`}
                confirm="Remove with all its conversations"
                confirmLabel={`Confirm removal of ${m.name} and all its conversations`}
                onConfirm={() => run(() => admin.removeMate(m.id))}
              >
                Remove
              </ConfirmButton>
            </div>
            {editing === m.id && (
              <MateForm
                mate={m}
                models={models.data!}
                submit="Save"
                onSubmit={(b) =>
                  run(async () => void (await admin.updateMate(m.id, b))).then((ok) => {
                    if (ok) setEditing(undefined);
                    return ok;
                  })
                }
              />
            )}
          </li>
        ))}
      </ul>
      <div className="card add-form">
        <h2>New Mate</h2>
        <MateForm
          models={models.data}
          submit="Create Mate"
          onSubmit={(b) => run(async () => void (await admin.createMate(b)))}
        />
      </div>
    </section>
  );
}
