import { auth } from '../api/endpoints.js';
import type { Session } from '../api/types.js';
import { navigate } from '../ui/router.js';
import { AuthForm, Field, val } from './AuthForm.js';

/** First run: the organization and its Owner. The setup token is in the server log's link. */
export function SetupPage({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const token = new URLSearchParams(location.search).get('token') ?? '';
  return (
    <AuthForm
      title="Set up Understudy"
      intro={
        <p className="muted">
          Create your organization and its Owner account. The setup token is printed in the server log (open
          the link it shows, or paste the token here).
        </p>
      }
      submit="Create organization"
      onSubmit={async (f) => {
        const s = await auth.setup({
          token: val(f, 'token'),
          organization: val(f, 'organization'),
          name: val(f, 'name'),
          email: val(f, 'email'),
          password: val(f, 'password'),
        });
        navigate('/', true);
        onSignedIn(s);
      }}
    >
      <Field label="Setup token" name="token" defaultValue={token} autoComplete="off" />
      <Field label="Organization name" name="organization" autoComplete="organization" />
      <Field label="Your name" name="name" autoComplete="name" />
      <Field label="Email" name="email" type="email" autoComplete="username" />
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
