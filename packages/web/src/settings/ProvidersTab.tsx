import { useState } from 'react';
import { admin } from '../api/endpoints.js';
import type { ConnectionTest, Provider } from '../api/types.js';
import { ConfirmButton } from '../ui/ConfirmButton.js';
import { ErrorText } from '../ui/ErrorText.js';
import { asSentence } from '../ui/sentence.js';
import { useAsync } from '../ui/useAsync.js';
import { AddProviderForm } from './AddProviderForm.js';

/** What of `p` is never sent to another host, as the subject of a sentence ("The stored key is"). */
function storedSecrets(p: Provider): string {
  const headers = p.headerNames.length > 0 ? `headers (${p.headerNames.join(', ')})` : '';
  if (!p.hasKey) return `The stored ${headers} are`;
  return headers ? `The stored key and ${headers} are` : 'The stored key is';
}

/** The origin (scheme, host and port) of a URL, or undefined while it is not one. */
function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/**
 * The Edit form of a provider: its name and URL (the type and id are fixed; the key has its own
 * form). The server never sends a stored key or header values to another host, so a URL on another
 * host asks for the key again here, and says the custom headers are dropped. An operator-declared
 * provider's URL is set in the environment or the configuration file: shown, not editable.
 */
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
  const [url, setUrl] = useState(p.baseUrl);
  const operator = p.source === 'env' || p.source === 'config';
  const moved =
    !operator && originOf(url.trim()) !== undefined && originOf(url.trim()) !== originOf(p.baseUrl);
  const save = async (f: FormData) => {
    setError(undefined);
    const label = String(f.get('label') ?? '').trim();
    const baseUrl = url.trim();
    const apiKey = String(f.get('apiKey') ?? '');
    try {
      onSaved(
        await admin.updateProvider(p.id, {
          ...(label !== p.label && { label }),
          ...(!operator && baseUrl !== p.baseUrl && { baseUrl }),
          ...(moved && p.hasKey && { apiKey: apiKey || null }),
          ...(moved && p.headerNames.length > 0 && { headers: null }),
        }),
      );
    } catch (e) {
      setError(asSentence(e instanceof Error ? e.message : String(e)));
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
        <input
          name="baseUrl"
          type="url"
          required
          value={url}
          onChange={(e) => setUrl(e.currentTarget.value)}
          readOnly={operator}
          aria-describedby={operator ? `url-note-${p.id}` : undefined}
        />
      </label>
      {operator && (
        <p id={`url-note-${p.id}`} className="muted small">
          Set by the operator {p.source === 'env' ? 'in the environment' : 'in the configuration file'}:
          change it there.
        </p>
      )}
      {moved && p.hasKey && (
        <label className="field">
          <span>API key for {originOf(url.trim())}</span>
          <input name="apiKey" type="password" autoComplete="off" aria-describedby={`key-note-${p.id}`} />
        </label>
      )}
      {moved && (p.hasKey || p.headerNames.length > 0) && (
        <p id={`key-note-${p.id}`} className="muted small">
          {storedSecrets(p)} never sent to another host.{' '}
          {p.hasKey && 'Give the key for the new one, or leave it empty to go without. '}
          {p.headerNames.length > 0 &&
            'The headers are removed; set them again through the API if it needs them.'}
        </p>
      )}
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
      {p.needsKeyAgain && (
        <div className="error-text small">
          This server cannot read its stored key or header values: they were saved by a server with another
          UNDERSTUDY_SECRET. Enter them again (or give every server the same secret); until then it is called
          without them.
        </div>
      )}
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
