import { useState } from 'react';
import { admin } from '../api/endpoints.js';
import type { ConnectionTest, Provider } from '../api/types.js';
import { ConfirmButton } from '../ui/ConfirmButton.js';
import { ErrorText } from '../ui/ErrorText.js';
import { useAsync } from '../ui/useAsync.js';
import { AddProviderForm } from './AddProviderForm.js';

/** The Edit form of a provider: its name and URL (the type and id are fixed; the key has its own form). */
function EditProviderForm({
  p,
  onSaved,
  onCancel,
}: {
  p: Provider;
  onSaved: (p: Provider) => void;
  onCancel: () => void;
}) {
  const [error, setError] = useState<string>();
  const save = async (f: FormData) => {
    setError(undefined);
    const label = String(f.get('label') ?? '').trim();
    const baseUrl = String(f.get('baseUrl') ?? '').trim();
    try {
      onSaved(
        await admin.updateProvider(p.id, {
          ...(label !== p.label && { label }),
          ...(baseUrl !== p.baseUrl && { baseUrl }),
        }),
      );
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <form
      className="grid-form"
      aria-label={`Edit ${p.label}`}
      onSubmit={(e) => {
        e.preventDefault();
        void save(new FormData(e.currentTarget));
      }}
    >
      <label className="field">
        <span>Name</span>
        <input name="label" required maxLength={100} defaultValue={p.label} />
      </label>
      <label className="field">
        <span>Base URL</span>
        <input name="baseUrl" type="url" required defaultValue={p.baseUrl} />
      </label>
      <div className="row">
        <button type="submit" className="primary">
          Save
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <ErrorText message={error} />
    </form>
  );
}

function ProviderCard({
  p,
  onChanged,
  onRemoved,
}: {
  p: Provider;
  onChanged: (p: Provider) => void;
  onRemoved: () => void;
}) {
  const [test, setTest] = useState<ConnectionTest | 'running'>();
  const [rotating, setRotating] = useState(false);
  const [editing, setEditing] = useState(false);
  const [key, setKey] = useState('');
  const [error, setError] = useState<string>();
  const runTest = async () => {
    setTest('running');
    try {
      setTest(await admin.testProvider(p.id));
    } catch (e) {
      setTest(undefined);
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const rotate = async () => {
    setError(undefined);
    try {
      onChanged(await admin.rotateKey(p.id, key));
      setKey('');
      setRotating(false);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <li className="card provider">
      <div className="provider-head">
        <strong>{p.label}</strong>
        <span className="muted small">
          {p.id} · {p.type}
          {p.builtin && ' · built-in simulator'}
        </span>
      </div>
      <div className="muted small">{p.baseUrl}</div>
      <div className="small">API key: {p.hasKey ? 'set (hidden)' : 'not set'}</div>
      <div className="row">
        <button
          type="button"
          className="small"
          aria-label={`Test connection to ${p.label}`}
          onClick={() => void runTest()}
          disabled={test === 'running'}
        >
          {test === 'running' ? 'Testing…' : 'Test connection'}
        </button>
        {/* The built-in simulator's providers are set up anew at every start: nothing to edit. */}
        {!p.builtin && (
          <>
            <button
              type="button"
              className="small"
              aria-label={`Rotate key of ${p.label}`}
              aria-expanded={rotating}
              onClick={() => setRotating(!rotating)}
            >
              Rotate key
            </button>
            <button
              type="button"
              className="small"
              aria-label={`Edit ${p.label}`}
              aria-expanded={editing}
              onClick={() => setEditing(!editing)}
            >
              Edit
            </button>
            <ConfirmButton
              label={`Remove ${p.label}`}
              confirm="Confirm removal"
              confirmLabel={`Confirm removal of ${p.label}`}
              onConfirm={async () => {
                setError(undefined);
                try {
                  await admin.removeProvider(p.id);
                  onRemoved();
                  return true;
                } catch (e) {
                  // e.g. its models are still in the list: the message names them.
                  setError(e instanceof Error ? e.message : String(e));
                  return false;
                }
              }}
            >
              Remove
            </ConfirmButton>
          </>
        )}
      </div>
      {editing && (
        <EditProviderForm
          p={p}
          onSaved={(n) => {
            onChanged(n);
            setEditing(false);
          }}
          onCancel={() => setEditing(false)}
        />
      )}
      {test && test !== 'running' && (
        <p className={test.ok ? 'ok-text' : 'error-text'} role="status">
          {test.ok
            ? `Connection works (${test.latencyMs ?? '?'} ms${test.model ? `, model ${test.model}` : ''}).`
            : `Connection failed: ${test.error?.message ?? 'unknown error'}`}
        </p>
      )}
      {rotating && (
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            void rotate();
          }}
        >
          <label className="field grow">
            <span>New API key for {p.label}</span>
            <input
              type="password"
              autoComplete="off"
              value={key}
              onChange={(e) => setKey(e.target.value)}
              required
            />
          </label>
          <button type="submit" className="primary">
            Save key
          </button>
        </form>
      )}
      <ErrorText message={error} />
    </li>
  );
}

/** Models Management → Providers: add, edit, remove, test the connection, rotate the key. Keys are write-only. */
export function ProvidersTab() {
  const { data, error, setData } = useAsync(admin.providers);
  if (!data) return <ErrorText message={error} />;
  return (
    <section aria-labelledby="providers-title">
      <h2 id="providers-title" className="visually-hidden">
        Providers
      </h2>
      <ul className="provider-list">
        {data.map((p) => (
          <ProviderCard
            key={p.id}
            p={p}
            onChanged={(n) => setData((ps) => ps?.map((x) => (x.id === n.id ? n : x)))}
            onRemoved={() => setData((ps) => ps?.filter((x) => x.id !== p.id))}
          />
        ))}
      </ul>
      <AddProviderForm onAdded={(p) => setData((ps) => [...(ps ?? []), p])} />
    </section>
  );
}
