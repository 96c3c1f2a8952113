import { auth } from '../api/endpoints.js';
import type { Session } from '../api/types.js';
import { AuthForm, Field, val } from './AuthForm.js';

/** The sign-in page: email and password; `onSignedIn` gets the new session. */
export function LoginPage({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  return (
    <AuthForm
      title="Sign in to Understudy"
      submit="Sign in"
      onSubmit={async (f) => onSignedIn(await auth.login(val(f, 'email'), val(f, 'password')))}
    >
      <Field label="Email" name="email" type="email" autoComplete="username" />
      <Field label="Password" name="password" type="password" autoComplete="current-password" />
    </AuthForm>
  );
}
