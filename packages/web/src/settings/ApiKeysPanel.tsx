import type { FormEvent } from 'react';
import { useState } from 'react';
import { admin } from '../api/endpoints.js';
import type { ApiKey } from '../api/types.js';
import { CardTableHead } from '../ui/CardTable.js';
import { ErrorText } from '../ui/ErrorText.js';
import { useAsync } from '../ui/useAsync.js';

/** Who created a key, as its row says it. */
export function creatorText(createdBy: ApiKey['createdBy']): string {
  if (!createdBy) return 'by the bootstrap file';
  if (!createdBy.removed) return `by ${createdBy.name ?? 'a member'}`;
  return createdBy.name ? `by ${createdBy.name}, no longer a member` : 'by a former member';
}

/** API keys for the OpenAI-compatible API: create (the key is shown once), revoke; who created each. */
export function ApiKeysPanel() {
  const keys = useAsync(admin.apiKeys);
  const [error, setError] = useState<string>();
  const [created, setCreated] = useState<{ name: string; key: string }>();

  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const name = String(new FormData(form).get('name') ?? '').trim();
    setError(undefined);
    try {
      const k = await admin.createApiKey(name);
      setCreated({ name: k.name, key: k.key });
      form.reset();
      keys.reload();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  const revoke = async (id: string) => {
    setError(undefined);
    try {
      await admin.revokeApiKey(id);
      keys.reload();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">API keys</h1>
      <p className="muted">
        For the OpenAI-compatible API at <code>/v1</code>: <code>Authorization: Bearer &lt;key&gt;</code>.
      </p>
      <ErrorText message={error ?? keys.error} />
      <form className="card add-form row" onSubmit={(e) => void create(e)}>
        <label className="field grow">
          <span>Name of the new key</span>
          <input name="name" required maxLength={100} />
        </label>
        <button type="submit" className="primary">
          Create key
        </button>
      </form>
      {created && (
        <div className="card notice" role="status">
          <p>
            Key <strong>{created.name}</strong> created. Copy it now: it is shown only once.
          </p>
          <code className="secret">{created.key}</code>
        </div>
      )}
      {/* Cards on a phone (see .card-table): explicit roles keep it a table for screen readers. */}
      <table className="table card-table" role="table">
        <CardTableHead columns={['Name', 'Key starts with', 'Created', 'Last used']} actions />
        <tbody role="rowgroup">
          {keys.data?.map((k) => (
            <tr key={k.id} role="row">
              <td role="cell">{k.name}</td>
              <td role="cell" data-label="Key starts with">
                <code>{k.prefix}…</code>
              </td>
              <td role="cell" data-label="Created">
                {/* In the cell, not a column of its own: "Created: <when> by <who>", on a phone too. */}
                {new Date(k.createdAt).toLocaleString()}{' '}
                <span className="muted">{creatorText(k.createdBy)}</span>
              </td>
              <td role="cell" data-label="Last used">
                {k.lastUsedAt ? new Date(k.lastUsedAt).toLocaleString() : 'never'}
              </td>
              <td role="cell" className="actions">
                <button
                  type="button"
                  className="danger small"
                  aria-label={`Revoke ${k.name}`}
                  onClick={() => void revoke(k.id)}
                >
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
