import { useRef, useState, type FormEvent } from 'react';
import { api, isApiError } from '../api';
import { Alert, Button, Card, TextField } from '../design';
import { Link } from '../router';
import { useDocumentTitle } from '../session';
import { AuthLayout } from './LoginPage';

/** The token of a reset link (`/reset-password#token=…`): in the fragment, which browsers never send to a server. */
export function tokenFromHash(hash: string): string | null {
  const token = new URLSearchParams(hash.replace(/^#/, '')).get('token');
  return token && token.trim() ? token.trim() : null;
}

function message(err: unknown): string {
  return isApiError(err) ? err.message : 'Something went wrong. Try again.';
}

function RequestLink() {
  const [email, setEmail] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [formError, setFormError] = useState<string | null>(null);
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLInputElement>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setFormError(null);
    if (!email.trim()) {
      setError('Enter your e-mail address.');
      return ref.current?.focus();
    }
    setError(undefined);
    setBusy(true);
    try {
      await api.requestPasswordReset(email.trim());
      setSentTo(email.trim());
    } catch (err) {
      setFormError(message(err));
    } finally {
      setBusy(false);
    }
  };

  if (sentTo) {
    return (
      <Alert tone="success" title="Check your mail" data-testid="reset-sent">
        If {sentTo} has an account, a message with a link is on its way. The link works for 60 minutes. Nothing
        arrived? Check the spam folder, or ask your administrator.
      </Alert>
    );
  }
  return (
    <form className="nx-stack" onSubmit={submit} noValidate data-testid="reset-request">
      {formError && <Alert tone="danger">{formError}</Alert>}
      <TextField
        ref={ref}
        label="E-mail"
        name="email"
        type="email"
        autoComplete="username"
        inputMode="email"
        autoFocus
        value={email}
        error={error}
        onChange={(e) => setEmail(e.target.value)}
      />
      <Button type="submit" block loading={busy}>
        Send me a link
      </Button>
    </form>
  );
}

function ChooseNewPassword({ token }: { token: string }) {
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<{ next?: string; confirm?: string }>({});
  const [linkInvalid, setLinkInvalid] = useState<string | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setFormError(null);
    const errs: { next?: string; confirm?: string } = {};
    if (!next) errs.next = 'Choose a new password.';
    if (next && confirm !== next) errs.confirm = 'The two passwords do not match.';
    setErrors(errs);
    if (Object.keys(errs).length) return;
    setBusy(true);
    try {
      await api.completePasswordReset(token, next);
      setDone(true);
    } catch (err) {
      if (isApiError(err) && err.code === 'auth.reset_link_invalid') setLinkInvalid(err.message);
      else if (isApiError(err) && err.code === 'auth.weak_password') setErrors({ next: err.message });
      else setFormError(message(err));
    } finally {
      setBusy(false);
    }
  };

  if (done) {
    return (
      <Alert tone="success" title="Your password has been changed" data-testid="reset-done">
        You were logged out everywhere. <Link href="/login">Log in</Link> with your new password.
      </Alert>
    );
  }
  if (linkInvalid) {
    return (
      <Alert tone="danger" title="This link does not work" data-testid="reset-link-invalid">
        {linkInvalid} <Link href="/reset-password">Ask for a new link</Link>.
      </Alert>
    );
  }
  return (
    <form className="nx-stack" onSubmit={submit} noValidate data-testid="reset-choose">
      {formError && <Alert tone="danger">{formError}</Alert>}
      <TextField
        label="New password"
        name="new_password"
        type="password"
        autoComplete="new-password"
        autoFocus
        hint="At least 12 characters; a few unrelated words work well."
        value={next}
        error={errors.next}
        onChange={(e) => setNext(e.target.value)}
      />
      <TextField
        label="Repeat new password"
        name="confirm_password"
        type="password"
        autoComplete="new-password"
        value={confirm}
        error={errors.confirm}
        onChange={(e) => setConfirm(e.target.value)}
      />
      <Button type="submit" block loading={busy}>
        Set new password
      </Button>
    </form>
  );
}

/** `/reset-password`: ask for a link by e-mail, or (with `#token=…`) choose a new password. */
export function ResetPasswordPage() {
  useDocumentTitle('Reset password');
  // Read once: the hash is then removed so the token does not linger in the address bar.
  const [token] = useState(() => tokenFromHash(window.location.hash));
  if (token && window.location.hash) {
    window.history.replaceState(window.history.state, '', window.location.pathname);
  }
  return (
    <AuthLayout>
      <Card>
        <h1 className="nx-login__title">{token ? 'Choose a new password' : 'Reset your password'}</h1>
        <p className="nx-login__subtitle">
          {token
            ? 'Pick a password only you know. Your other sessions end.'
            : 'We send a link to your e-mail address that lets you choose a new password.'}
        </p>
        {token ? <ChooseNewPassword token={token} /> : <RequestLink />}
      </Card>
      <p className="nx-login__aside">
        <Link href="/login">Back to log in</Link>
      </p>
    </AuthLayout>
  );
}
