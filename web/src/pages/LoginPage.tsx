import { useRef, useState, type FormEvent } from 'react';
import { api, isApiError } from '../api';
import { Alert, Button, Card, TextField } from '../design';
import { Navigate, useLocation, useNavigate } from '../router';
import { useDocumentTitle, useProductName, useSession } from '../session';

/** Where to go after logging in: the `next` query parameter if it is a safe internal path. */
export function nextPath(search: string): string {
  const next = new URLSearchParams(search).get('next');
  if (next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login')) {
    return next;
  }
  return '/';
}

function loginErrorMessage(err: unknown): string {
  if (!isApiError(err)) return 'Something went wrong. Try again.';
  switch (err.code) {
    case 'auth.invalid_credentials':
      return 'That e-mail and password do not match. Check them and try again.';
    case 'auth.throttled':
      return err.message || 'Too many attempts. Wait a moment before trying again.';
    default:
      return err.message;
  }
}

export function LoginPage() {
  const { state, signedIn } = useSession();
  const product = useProductName();
  const location = useLocation();
  const navigate = useNavigate();
  useDocumentTitle('Log in');

  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [fieldErrors, setFieldErrors] = useState<{ email?: string; password?: string }>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const emailRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);

  if (state.status === 'authenticated' && !busy) {
    return <Navigate to={state.session.must_change_password ? '/account' : nextPath(location.search)} />;
  }

  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const errors: { email?: string; password?: string } = {};
    if (!email.trim()) errors.email = 'Enter your e-mail address.';
    if (!password) errors.password = 'Enter your password.';
    setFieldErrors(errors);
    setError(null);
    if (errors.email) return emailRef.current?.focus();
    if (errors.password) return passwordRef.current?.focus();

    setBusy(true);
    try {
      const session = await api.login(email.trim(), password);
      signedIn(session);
      if (session.must_change_password) {
        navigate('/account', { replace: true, state: { reason: 'must_change_password' } });
      } else {
        navigate(nextPath(location.search), { replace: true });
      }
    } catch (err) {
      setError(loginErrorMessage(err));
      setPassword('');
      passwordRef.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="nx-login">
      <div className="nx-login__panel">
        <div className="nx-login__brand">
          <span className="nx-topbar__logo" aria-hidden="true">
            <svg viewBox="0 0 32 32" width="20" height="20" fill="none" stroke="currentColor" strokeWidth="3.2" strokeLinecap="round" strokeLinejoin="round">
              <path d="M10 23V9l12 14V9" />
            </svg>
          </span>
          <span>{product}</span>
        </div>
        <main>
          <Card>
            <h1 className="nx-login__title">Log in</h1>
            <p className="nx-login__subtitle">Welcome back. Sign in to reach all your apps.</p>
            <form className="nx-stack" onSubmit={onSubmit} noValidate aria-describedby={error ? 'login-error' : undefined}>
              {error && (
                <Alert tone="danger" data-testid="login-error">
                  <span id="login-error">{error}</span>
                </Alert>
              )}
              <TextField
                ref={emailRef}
                label="E-mail"
                name="email"
                type="email"
                autoComplete="username"
                inputMode="email"
                autoFocus
                value={email}
                error={fieldErrors.email}
                onChange={(e) => setEmail(e.target.value)}
              />
              <TextField
                ref={passwordRef}
                label="Password"
                name="password"
                type="password"
                autoComplete="current-password"
                value={password}
                error={fieldErrors.password}
                onChange={(e) => setPassword(e.target.value)}
              />
              <Button type="submit" block loading={busy}>
                Log in
              </Button>
            </form>
          </Card>
        </main>
      </div>
    </div>
  );
}
