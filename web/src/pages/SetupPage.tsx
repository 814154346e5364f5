import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, isApiError, isMfaChallenge } from '../api';
import { Alert, Button, Card, TextField } from '../design';
import { Link, useNavigate } from '../router';
import { useDocumentTitle, useProductName, useSession } from '../session';
import { AuthLayout } from './LoginPage';
import { tokenFromHash } from './ResetPasswordPage';

/** What the operator runs for a one-time password when the setup link is gone. */
function ResetCommand() {
  return (
    <>
      On the server, the operator can run <code>nexusctl users reset-password --email EMAIL</code> for a one-time password;{' '}
      <Link href="/login">log in</Link> with it and choose your own.
    </>
  );
}

function ChoosePassword({ token }: { token: string }) {
  const { signedIn } = useSession();
  const navigate = useNavigate();
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<{ next?: string; confirm?: string }>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [linkInvalid, setLinkInvalid] = useState(false);
  const [logInNext, setLogInNext] = useState(false);
  const [busy, setBusy] = useState(false);
  const nextRef = useRef<HTMLInputElement>(null);
  const confirmRef = useRef<HTMLInputElement>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setFormError(null);
    const errs: { next?: string; confirm?: string } = {};
    // Strength rules live on the server (auth.weak_password); only the obvious is checked here.
    if (!next) errs.next = 'Choose a password.';
    if (next && confirm !== next) errs.confirm = 'The two passwords do not match.';
    setErrors(errs);
    if (errs.next) return nextRef.current?.focus();
    if (errs.confirm) return confirmRef.current?.focus();
    setBusy(true);
    try {
      const result = await api.setup(token, next);
      if (isMfaChallenge(result)) {
        setLogInNext(true);
        return;
      }
      signedIn(result);
      navigate(result.must_change_password ? '/account' : '/', { replace: true });
    } catch (err) {
      if (isApiError(err) && err.code === 'auth.reset_link_invalid') {
        setLinkInvalid(true);
      } else if (isApiError(err) && err.code === 'auth.weak_password') {
        setErrors({ next: err.message || 'That password is too weak. Choose a longer one.' });
        nextRef.current?.focus();
      } else {
        setFormError(isApiError(err) ? err.message : 'Something went wrong. Try again.');
      }
    } finally {
      setBusy(false);
    }
  };

  if (logInNext) {
    return (
      <Alert tone="success" title="Your password is set" data-testid="setup-log-in">
        Your account also asks for a second step. <Link href="/login">Log in</Link> with your new password to finish.
      </Alert>
    );
  }
  if (linkInvalid) {
    return (
      <Alert tone="danger" title="This setup link does not work" data-testid="setup-link-invalid">
        It was used already, has expired, or is not the link <code>nexusctl init</code> printed. <ResetCommand />
      </Alert>
    );
  }
  return (
    <form className="nx-stack" onSubmit={submit} noValidate data-testid="setup-form">
      {formError && (
        <Alert tone="danger" data-testid="setup-error">
          {formError}
        </Alert>
      )}
      <TextField
        ref={nextRef}
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
        ref={confirmRef}
        label="Repeat new password"
        name="confirm_password"
        type="password"
        autoComplete="new-password"
        value={confirm}
        error={errors.confirm}
        onChange={(e) => setConfirm(e.target.value)}
      />
      <Button type="submit" block loading={busy}>
        Set password and sign in
      </Button>
    </form>
  );
}

/** `/setup#token=…`: the first administrator chooses a password with the link `nexusctl init` printed. */
export function SetupPage() {
  const product = useProductName();
  useDocumentTitle('Set up');
  // Read on arrival: the hash is then removed so the token does not linger in the address bar.
  const [token, setToken] = useState(() => tokenFromHash(window.location.hash));
  // The link pasted into a tab already showing /setup changes only the hash: no reload.
  useEffect(() => {
    const onHashChange = () => {
      const pasted = tokenFromHash(window.location.hash);
      if (pasted) setToken(pasted);
    };
    window.addEventListener('hashchange', onHashChange);
    return () => window.removeEventListener('hashchange', onHashChange);
  }, []);
  if (token && window.location.hash) {
    window.history.replaceState(window.history.state, '', window.location.pathname);
  }
  return (
    <AuthLayout>
      <Card>
        <h1 className="nx-login__title">Set up your {product}</h1>
        <p className="nx-login__subtitle">
          Welcome! You are its first administrator: choose the password you will log in with from now on.
        </p>
        {token ? (
          <ChoosePassword token={token} />
        ) : (
          <Alert tone="warning" title="This page needs your setup link" data-testid="setup-no-token">
            Open the whole one-time link that <code>nexusctl init</code> printed; it ends in <code>#token=…</code>. Lost
            it? <ResetCommand />
          </Alert>
        )}
      </Card>
    </AuthLayout>
  );
}
