/** Members: invite (the link is shown to copy), change roles, remove; pending invitations. */
import type { FormEvent } from 'react';
import { useState } from 'react';
import { admin } from '../api/endpoints.js';
import type { Invitation, Role, Session } from '../api/types.js';
import { ErrorText } from '../ui/ErrorText.js';
import { useAsync } from '../ui/useAsync.js';

const ROLES: Role[] = ['owner', 'admin', 'member'];

export function MembersPanel({ session }: { session: Session }) {
  const members = useAsync(admin.members);
  const invitations = useAsync(admin.invitations);
  const [error, setError] = useState<string>();
  const [invited, setInvited] = useState<Invitation>();

  const run = async (fn: () => Promise<void>) => {
    setError(undefined);
    try {
      await fn();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const invite = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    void run(async () => {
      const inv = await admin.invite(String(f.get('email') ?? ''), String(f.get('role') ?? 'member') as Role);
      setInvited(inv);
      form.reset();
      invitations.reload();
    });
  };

  return (
    <section aria-labelledby="members-title">
      <h1 id="members-title">Members</h1>
      <ErrorText message={error ?? members.error} />
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {members.data?.map((m) => (
            <tr key={m.id}>
              <td>{m.name}</td>
              <td>{m.email}</td>
              <td>
                <select
                  aria-label={`Role of ${m.name}`}
                  value={m.role}
                  onChange={(e) =>
                    void run(async () => {
                      await admin.setRole(m.id, e.target.value as Role);
                      members.reload();
                    })
                  }
                >
                  {ROLES.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
              </td>
              <td>
                {m.id !== session.user.id && (
                  <button
                    type="button"
                    className="danger small"
                    onClick={() =>
                      void run(async () => {
                        await admin.removeMember(m.id);
                        members.reload();
                      })
                    }
                  >
                    Remove
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      <form className="card add-form" onSubmit={invite}>
        <h2>Invite someone</h2>
        <div className="row">
          <label className="field grow">
            <span>Email</span>
            <input name="email" type="email" required />
          </label>
          <label className="field">
            <span>Role</span>
            <select name="role" defaultValue="member">
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="primary">
            Invite
          </button>
        </div>
        {invited?.acceptUrl && (
          <p role="status" className="ok-text">
            Invitation created for {invited.email}. Send them this link (shown once):{' '}
            <code className="secret">{invited.acceptUrl}</code>
          </p>
        )}
      </form>
      {invitations.data && invitations.data.length > 0 && (
        <>
          <h2>Pending invitations</h2>
          <ul className="plain-list">
            {invitations.data.map((i) => (
              <li key={i.id}>
                {i.email} ({i.role}), expires {new Date(i.expiresAt).toLocaleDateString()}{' '}
                <button
                  type="button"
                  className="small"
                  onClick={() =>
                    void run(async () => {
                      await admin.cancelInvitation(i.id);
                      invitations.reload();
                    })
                  }
                >
                  Cancel
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
