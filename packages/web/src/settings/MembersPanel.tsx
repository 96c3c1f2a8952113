import type { FormEvent } from 'react';
import { useState } from 'react';
import { roleMayHaveChanged } from '../api/client.js';
import { admin } from '../api/endpoints.js';
import type { Invitation, Member, Role, Session } from '../api/types.js';
import { ConfirmButton } from '../ui/ConfirmButton.js';
import { CardTableHead } from '../ui/CardTable.js';
import { ErrorText } from '../ui/ErrorText.js';
import { asSentence } from '../ui/sentence.js';
import { useAsync } from '../ui/useAsync.js';

const ROLES: Role[] = ['owner', 'admin', 'member'];
/** "1 API key", "2 API keys". */
const keyCount = (n: number) => `${n} API key${n === 1 ? '' : 's'}`;
/** The roles a viewer may grant: only an Owner grants (or takes away) the Owner role. */
const grantable = (viewer: Role): Role[] => (viewer === 'owner' ? ROLES : ROLES.filter((r) => r !== 'owner'));

function MemberRow({
  member: m,
  self,
  viewer,
  onRole,
  onRemove,
  error,
}: {
  member: Member;
  /** Why this member's role change or removal was refused, shown in the row. */
  error?: string;
  self: boolean;
  /** The signed-in user's role: an Admin is not offered what only an Owner may do. */
  viewer: Role;
  onRole: (role: Role) => Promise<boolean>;
  onRemove: () => Promise<boolean>;
}) {
  const [draft, setDraft] = useState<Role>();
  const [busy, setBusy] = useState(false);
  const role = draft ?? m.role;
  const changed = role !== m.role;
  // An Owner's row is the Owners' to change: an Admin sees it, read-only.
  const locked = viewer !== 'owner' && m.role === 'owner';
  const save = async () => {
    setBusy(true);
    const ok = await onRole(role);
    if (ok) setDraft(undefined);
    setBusy(false);
    return ok;
  };
  const saveRole = (e: FormEvent) => {
    e.preventDefault();
    // One's own role is saved only through the confirming button: it takes powers away.
    if (changed && !self) void save();
  };
  return (
    <tr role="row">
      <td role="cell">{m.name}</td>
      <td role="cell" data-label="Email">
        {m.email}
      </td>
      <td role="cell" data-label="Role">
        <form className="role-form" onSubmit={saveRole}>
          <select
            aria-label={`Role of ${m.name}`}
            value={role}
            disabled={locked}
            title={locked ? 'Only an Owner can change an Owner' : undefined}
            onChange={(e) => setDraft(e.target.value as Role)}
          >
            {(locked ? ROLES : grantable(viewer)).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
          {changed && (
            <>
              {self ? (
                <ConfirmButton
                  label={`Save role of ${m.name}`}
                  className="primary small"
                  confirm={
                    role === 'member'
                      ? 'Confirm: I become member and lose Settings'
                      : `Confirm: I become ${role}`
                  }
                  confirmLabel={`Confirm your own role change to ${role}`}
                  onConfirm={save}
                >
                  Save
                </ConfirmButton>
              ) : (
                <button
                  type="submit"
                  className="primary small"
                  aria-label={`Save role of ${m.name}`}
                  disabled={busy}
                >
                  Save
                </button>
              )}
              <button
                type="button"
                className="small"
                aria-label={`Cancel role change of ${m.name}`}
                onClick={() => setDraft(undefined)}
              >
                Cancel
              </button>
            </>
          )}
        </form>
        <ErrorText message={error} className="small" />
      </td>
      <td role="cell" className="actions">
        {!self && !locked && (
          <ConfirmButton
            label={`Remove ${m.name}`}
            confirm={
              m.activeApiKeys > 0
                ? `Confirm: remove and revoke ${keyCount(m.activeApiKeys)}`
                : 'Confirm removal'
            }
            confirmLabel={
              m.activeApiKeys > 0
                ? `Confirm removal of ${m.name} and revoking the ${keyCount(m.activeApiKeys)} they created`
                : `Confirm removal of ${m.name}`
            }
            onConfirm={onRemove}
          >
            Remove
          </ConfirmButton>
        )}
      </td>
    </tr>
  );
}

/** The pending invitation of `email` (as the server compares them: trimmed, any case), if any. */
function pendingFor(invitations: Invitation[] | undefined, email: string): Invitation | undefined {
  const wanted = email.trim().toLowerCase();
  return wanted ? invitations?.find((i) => i.email.toLowerCase() === wanted) : undefined;
}

/**
 * Members: invite (the link is shown to copy), change roles, remove; pending invitations.
 * A role is changed only by its Save button: choosing in the dropdown (where each arrow key fires
 * `change`) saves nothing, so a keyboard user never grants the roles passed on the way. Removing
 * asks for a confirming second click, which says when it also revokes the member's API keys.
 */
export function MembersPanel({ session }: { session: Session }) {
  const members = useAsync(admin.members);
  const invitations = useAsync(admin.invitations);
  const [error, setError] = useState<string>();
  // A refusal about one member (e.g. the last Owner's role) is shown in that member's row.
  const [rowError, setRowError] = useState<{ id: string; message: string }>();
  const [invited, setInvited] = useState<Invitation>();
  const [notice, setNotice] = useState<string>();
  // The email being typed: inviting someone who has a pending invitation replaces it, said first.
  const [email, setEmail] = useState('');
  const pending = pendingFor(invitations.data, email);
  const already = members.data?.find((m) => m.email.toLowerCase() === email.trim().toLowerCase());

  const run = async (fn: () => Promise<void>, memberId?: string): Promise<boolean> => {
    setError(undefined);
    setRowError(undefined);
    setNotice(undefined);
    try {
      await fn();
      return true;
    } catch (e) {
      const message = asSentence(e instanceof Error ? e.message : String(e));
      if (memberId) setRowError({ id: memberId, message });
      else setError(message);
      return false;
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
      setEmail('');
      invitations.reload();
    });
  };

  return (
    <section aria-labelledby="members-title">
      <h1 id="members-title">Members</h1>
      <ErrorText message={error ?? members.error} />
      {notice && (
        <p className="ok-text" role="status">
          {notice}
        </p>
      )}
      {/* Cards on a phone (see .card-table): explicit roles keep it a table for screen readers. */}
      <table className="table card-table" role="table">
        <CardTableHead columns={['Name', 'Email', 'Role']} actions />
        <tbody role="rowgroup">
          {members.data?.map((m) => (
            <MemberRow
              key={m.id}
              member={m}
              self={m.id === session.user.id}
              viewer={session.user.role}
              error={rowError?.id === m.id ? rowError.message : undefined}
              onRole={(role) =>
                run(async () => {
                  await admin.setRole(m.id, role);
                  setNotice(`${m.name} is now ${role}.`);
                  members.setData((ms) => ms?.map((x) => (x.id === m.id ? { ...x, role } : x)));
                  // One's own role: the app reads the session, and leaves settings if it must.
                  if (m.id === session.user.id) roleMayHaveChanged();
                }, m.id)
              }
              onRemove={() =>
                run(async () => {
                  const { apiKeys } = await admin.removeMember(m.id);
                  // The keys they created go with them (they saw each one): said with the removal.
                  setNotice(
                    apiKeys.revoked > 0
                      ? `${m.name} was removed, and the ${keyCount(apiKeys.revoked)} they created ${apiKeys.revoked === 1 ? 'was' : 'were'} revoked.`
                      : `${m.name} was removed.`,
                  );
                  members.setData((ms) => ms?.filter((x) => x.id !== m.id));
                }, m.id)
              }
            />
          ))}
        </tbody>
      </table>

      <form className="card add-form" onSubmit={invite} aria-labelledby="invite-title">
        <h2 id="invite-title">Invite someone</h2>
        <div className="row">
          <label className="field grow">
            <span>Email</span>
            <input
              name="email"
              type="email"
              required
              aria-describedby={pending || already ? 'invite-note' : undefined}
              onChange={(e) => setEmail(e.currentTarget.value)}
            />
          </label>
          <label className="field">
            <span>Role</span>
            <select name="role" defaultValue="member">
              {grantable(session.user.role).map((r) => (
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
        {already && (
          <p id="invite-note" className="muted small">
            {already.name} already has an account with this email.
          </p>
        )}
        {pending && !already && (
          <p id="invite-note" className="muted small">
            {pending.email} already has an invitation (as {pending.role}, until{' '}
            {new Date(pending.expiresAt).toLocaleDateString()}). Inviting again replaces it: its link stops
            working.
          </p>
        )}
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
                  aria-label={`Cancel the invitation of ${i.email}`}
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
