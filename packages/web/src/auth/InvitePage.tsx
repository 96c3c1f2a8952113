import { ApiError } from '../api/client.js';
import { auth } from '../api/endpoints.js';
import type { Session } from '../api/types.js';
import { navigate } from '../ui/router.js';
import { useAsync } from '../ui/useAsync.js';
import { AuthForm, Field, val } from './AuthForm.js';
import { authRefusal } from './refusal.js';

/** Accepting an invitation: the invited email is fixed; the new member picks a name and password. */
export function InvitePage({ token, onSignedIn }: { token: string; onSignedIn: (s: Session) => void }) {
  // Too many wrong links from this address is not this link's fault: said as such, not as invalid.
  const inv = useAsync(
    () =>
      auth.invitation(token).catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 429) return { throttled: authRefusal(e) };
        throw e;
      }),
    [token],
  );
  const refused =
    inv.error !== undefined
      ? 'This invitation is not valid any more (it may be used or expired).'
      : inv.data && 'throttled' in inv.data
        ? inv.data.throttled
        : undefined;
  if (refused)
    return (
      <main className="auth">
        <div className="card auth-card">
          <h1>Invitation</h1>
          <p role="alert">{refused}</p>
        </div>
      </main>
    );
  if (!inv.data || 'throttled' in inv.data) return <p className="loading">Loading…</p>;
  return (
    <AuthForm
      title={`Join ${inv.data.organization}`}
      intro={
        <p className="muted">
          {inv.data.email} is invited as {inv.data.role}.
        </p>
      }
      submit="Join"
      onSubmit={async (f) => {
        const s = await auth.acceptInvitation({ token, name: val(f, 'name'), password: val(f, 'password') });
        navigate('/', true);
        onSignedIn(s);
      }}
    >
      <Field label="Your name" name="name" autoComplete="name" />
      <Field
        label="Password (10+ characters)"
        name="password"
        type="password"
        autoComplete="new-password"
        minLength={10}
      />
    </AuthForm>
  );
}
