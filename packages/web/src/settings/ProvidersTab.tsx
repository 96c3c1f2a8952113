import { useState } from 'react';
import { admin } from '../api/endpoints.js';
import type { ConnectionTest, Provider } from '../api/types.js';
import { ErrorText } from '../ui/ErrorText.js';
import { useAsync } from '../ui/useAsync.js';
import { AddProviderForm } from './AddProviderForm.js';

function ProviderCard({ p, onChanged }: { p: Provider; onChanged: (p: Provider) => void }) {
  const [test, setTest] = useState<ConnectionTest | 'running'>();
  const [rotating, setRotating] = useState(false);
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
        <button type="button" className="small" onClick={() => void runTest()} disabled={test === 'running'}>
          {test === 'running' ? 'Testing…' : 'Test connection'}
        </button>
        {!p.builtin && (
          <button
            type="button"
            className="small"
            aria-expanded={rotating}
            onClick={() => setRotating(!rotating)}
          >
            Rotate key
          </button>
        )}
      </div>
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

/** Models Management → Providers: add, test the connection, rotate the key. Keys are write-only. */
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
          />
        ))}
      </ul>
      <AddProviderForm onAdded={(p) => setData((ps) => [...(ps ?? []), p])} />
    </section>
  );
}
