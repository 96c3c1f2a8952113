import { auth } from '../api/endpoints.js';
import type { Session } from '../api/types.js';
import { navigate } from '../ui/router.js';
import { useAsync } from '../ui/useAsync.js';
import { AuthForm, Field, val } from './AuthForm.js';

/** Accepting an invitation: the invited email is fixed; the new member picks a name and password. */
export function InvitePage({ token, onSignedIn }: { token: string; onSignedIn: (s: Session) => void }) {
  const inv = useAsync(() => auth.invitation(token), [token]);
  if (inv.error)
    return (
      <main className="auth">
        <div className="card auth-card">
          <h1>Invitation</h1>
          <p role="alert">This invitation is not valid any more (it may be used or expired).</p>
        </div>
      </main>
    );
  if (!inv.data) return <p className="loading">Loading…</p>;
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
