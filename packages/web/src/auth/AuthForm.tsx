import type { FormEvent, ReactNode } from 'react';
import { useRef, useState } from 'react';
import { ErrorText } from '../ui/ErrorText.js';
import { authRefusal } from './refusal.js';

/** The frame of the sign-in, setup and invitation forms: title, fields, submit, error. */
export function AuthForm({
  title,
  intro,
  submit,
  onSubmit,
  children,
}: {
  title: string;
  intro?: ReactNode;
  submit: string;
  onSubmit: (form: FormData) => Promise<void>;
  children: ReactNode;
}) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  // A ref as well: a second Enter before the re-render must not send the form twice.
  const sending = useRef(false);
  const handle = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (sending.current) return;
    sending.current = true;
    setBusy(true);
    setError(undefined);
    try {
      await onSubmit(new FormData(e.currentTarget));
    } catch (err) {
      setError(authRefusal(err));
    } finally {
      sending.current = false;
      setBusy(false);
    }
  };
  return (
    <main className="auth">
      <form className="card auth-card" onSubmit={handle}>
        <h1>{title}</h1>
        {intro}
        {children}
        <ErrorText message={error} />
        {/* aria-disabled, not disabled: a disabled button drops the keyboard focus to <body>, so
            after a refusal (a wrong password) a keyboard user would start again from the top. */}
        <button type="submit" className="primary" aria-disabled={busy}>
          {submit}
        </button>
      </form>
    </main>
  );
}

/** A labelled input. */
export function Field({
  label,
  name,
  type = 'text',
  autoComplete,
  defaultValue,
  minLength,
}: {
  label: string;
  name: string;
  type?: string;
  autoComplete?: string;
  defaultValue?: string;
  minLength?: number;
}) {
  return (
    <label className="field">
      <span>{label}</span>
      <input
        name={name}
        type={type}
        required
        autoComplete={autoComplete}
        defaultValue={defaultValue}
        minLength={minLength}
      />
    </label>
  );
}

/** A FormData value as a string. */
export function val(form: FormData, name: string): string {
  const v = form.get(name);
  return typeof v === 'string' ? v : '';
}
