import type { FormEvent } from 'react';
import { useState } from 'react';
import { admin, chat } from '../api/endpoints.js';
import type { Mate, ModelsForMembers } from '../api/types.js';
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
  onSubmit: (b: { name: string; instructions: string; model: string | null }) => Promise<void>;
}) {
  const handle = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const model = String(f.get('model') ?? '');
    void onSubmit({
      name: String(f.get('name') ?? '').trim(),
      instructions: String(f.get('instructions') ?? ''),
      model: model || null,
    }).then(() => !mate && form.reset());
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

/** Mates: create, edit (name, instructions, model or the organization default), remove. */
export function MatesPanel() {
  const mates = useAsync(chat.mates);
  const models = useAsync(chat.models);
  const [error, setError] = useState<string>();
  const [editing, setEditing] = useState<string>();
  const run = async (fn: () => Promise<void>) => {
    setError(undefined);
    try {
      await fn();
      mates.reload();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      throw e;
    }
  };
  if (!mates.data || !models.data) return <ErrorText message={mates.error ?? models.error} />;
  const modelLabel = (id: string | null) =>
    id === null ? 'Organization default' : (models.data?.models.find((m) => m.id === id)?.label ?? id);
  return (
    <section aria-labelledby="mates-title">
      <h1 id="mates-title">Mates</h1>
      <ErrorText message={error} />
      <ul className="provider-list">
        {mates.data.map((m) => (
          <li key={m.id} className="card provider">
            <div className="provider-head">
              <strong>{m.name}</strong>
              <span className="muted small">{modelLabel(m.model)}</span>
              <button
                type="button"
                className="small"
                aria-expanded={editing === m.id}
                onClick={() => setEditing(editing === m.id ? undefined : m.id)}
              >
                Edit
              </button>
              <button
                type="button"
                className="danger small"
                onClick={() => void run(() => admin.removeMate(m.id)).catch(() => undefined)}
              >
                Remove
              </button>
            </div>
            {editing === m.id && (
              <MateForm
                mate={m}
                models={models.data!}
                submit="Save"
                onSubmit={(b) =>
                  run(async () => void (await admin.updateMate(m.id, b))).then(() => setEditing(undefined))
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
