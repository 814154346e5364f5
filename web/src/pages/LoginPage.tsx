import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { api, isApiError, isMfaChallenge, type LoginProvider, type Session } from '../api';
import { Alert, Button, Card, TextField } from '../design';
import { Link, Navigate, useLocation, useNavigate } from '../router';
import { useDocumentTitle, useProductName, useSession } from '../session';
import { credentialToJson, passkeysSupported, requestOptions, webauthnErrorMessage } from '../webauthn';

/** Where to go after logging in: the `next` query parameter if it is a safe internal path. */
export function nextPath(search: string): string {
  const next = new URLSearchParams(search).get('next');
  if (next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login')) {
    return next;
  }
  return '/';
}

/** Paths the server answers itself (the OpenID Connect authorization endpoint): reached by
 *  a full page load, not the app's router. */
export function isServerPath(path: string): boolean {
  return path.startsWith('/oauth/');
}

/** What the page says for `?sso_error=CODE`, the fixed code the server sends back when
 *  signing in through a provider did not work; null without one. */
export function ssoErrorMessage(code: string | null): string | null {
  if (code === null) return null;
  switch (code) {
    case 'expired':
      return 'That sign-in took too long or was started in another browser. Try again.';
    case 'denied':
      return 'The sign-in was cancelled at your provider.';
    case 'no_account':
      return 'There is no account here for you yet. Ask an administrator to add you.';
    case 'unverified':
      return 'Your provider did not confirm your e-mail address, so it cannot open an account here. Ask an administrator.';
    case 'disabled':
      return 'This account is disabled. Ask an administrator.';
    case 'link_required':
      return 'Your account here has administrator rights, so it is not linked to your provider by e-mail address. Log in with your password, then link the provider on your Account page.';
    case 'link_taken':
      return 'That provider account is already linked to another account here.';
    default:
      return "Signing in through your provider did not work. Try again, or ask an administrator to check the provider's settings.";
  }
}

/** The second-step challenge of `#mfa=…`: a sign-in through a provider, for an account with a
 *  second factor here. */
export function challengeFromHash(hash: string): string | null {
  const challenge = new URLSearchParams(hash.replace(/^#/, '')).get('mfa');
  return challenge && challenge.trim() ? challenge.trim() : null;
}

function loginErrorMessage(err: unknown): string {
  if (!isApiError(err)) return 'Something went wrong. Try again.';
  switch (err.code) {
    case 'auth.invalid_credentials':
      return 'That e-mail and password do not match. Check them and try again.';
    case 'auth.throttled':
      return err.message || 'Too many attempts. Wait a moment before trying again.';
    case 'auth.invalid_code':
      return 'That code is not right, or it was already used. Wait for the next code in your app and try again.';
    default:
      return err.message;
  }
}

export function LoginPage() {
  const { state, signedIn } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  useDocumentTitle('Log in');

  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [fieldErrors, setFieldErrors] = useState<{ email?: string; password?: string }>({});
  // Back from a provider: why it did not work, or the second step it still needs.
  const [error, setError] = useState<string | null>(() =>
    ssoErrorMessage(new URLSearchParams(location.search).get('sso_error')),
  );
  const [busy, setBusy] = useState(false);
  /** Set when the password (or the provider) was right and the account wants a second factor. */
  const [challenge, setChallenge] = useState<string | null>(() => challengeFromHash(window.location.hash));
  const [code, setCode] = useState('');
  const [codeError, setCodeError] = useState<string | undefined>();
  const codeRef = useRef<HTMLInputElement>(null);
  const emailRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  const [providers, setProviders] = useState<LoginProvider[]>([]);
  const org = new URLSearchParams(location.search).get('org');

  // The challenge is read on arrival; it does not linger in the address bar.
  useEffect(() => {
    if (challengeFromHash(window.location.hash)) {
      window.history.replaceState(window.history.state, '', window.location.pathname + window.location.search);
    }
  }, []);

  // The "Sign in with …" buttons; without them (none, or the list failed) the page is as before.
  useEffect(() => {
    const controller = new AbortController();
    api.ssoProviders(org, { signal: controller.signal }).then(
      (result) => {
        if (!controller.signal.aborted) setProviders(Array.isArray(result?.providers) ? result.providers : []);
      },
      () => {},
    );
    return () => controller.abort();
  }, [org]);

  // An app asked NEXUS to make the user sign in again (OpenID Connect prompt=login): the
  // form shows even with a session; the new login makes a new session, whose cookie takes
  // the old one's place.
  const reauth = new URLSearchParams(location.search).get('reauth') === '1';

  if (state.status === 'authenticated' && !busy && !reauth) {
    const next = nextPath(location.search);
    if (!state.session.must_change_password && isServerPath(next)) {
      window.location.replace(next);
      return null;
    }
    return <Navigate to={state.session.must_change_password ? '/account' : next} />;
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
      const result = await api.login(email.trim(), password);
      if (isMfaChallenge(result)) {
        setChallenge(result.mfa.challenge);
        setPassword('');
        setCode('');
        setCodeError(undefined);
      } else {
        finish(result);
      }
    } catch (err) {
      setError(loginErrorMessage(err));
      setPassword('');
      passwordRef.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  const finish = (session: Session) => {
    const next = nextPath(location.search);
    if (!session.must_change_password && isServerPath(next)) {
      // Back to the app that asked NEXUS to sign the user in.
      window.location.assign(next);
      return;
    }
    signedIn(session);
    if (session.must_change_password) {
      navigate('/account', { replace: true, state: { reason: 'must_change_password' } });
    } else {
      navigate(next, { replace: true });
    }
  };

  /** Signs in with a passkey of the address typed: the browser asks the device. */
  const onPasskey = async () => {
    setError(null);
    if (!email.trim()) {
      setFieldErrors({ email: 'Enter your e-mail address, then choose the passkey.' });
      return emailRef.current?.focus();
    }
    setFieldErrors({});
    setBusy(true);
    try {
      const { ceremony, options } = await api.beginPasskeyLogin(email.trim());
      let credential: Credential | null;
      try {
        credential = await navigator.credentials.get(requestOptions(options));
      } catch (err) {
        setError(webauthnErrorMessage(err));
        return;
      }
      if (!credential) {
        setError(webauthnErrorMessage(null));
        return;
      }
      finish(await api.finishPasskeyLogin(ceremony, credentialToJson(credential as PublicKeyCredential)));
    } catch (err) {
      setError(loginErrorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  /** To the provider (a full page load); it sends the browser back here or to `next`. */
  const onProvider = (provider: LoginProvider) => {
    setError(null);
    window.location.assign(api.ssoStartUrl(provider.id, nextPath(location.search)));
  };

  const startOver = (message: string | null) => {
    setChallenge(null);
    setCode('');
    setCodeError(undefined);
    setError(message);
  };

  const onSubmitCode = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!challenge) return;
    setError(null);
    if (!code.trim()) {
      setCodeError('Enter the code from your authenticator app, or a recovery code.');
      return codeRef.current?.focus();
    }
    setCodeError(undefined);
    setBusy(true);
    try {
      finish(await api.loginSecondFactor(challenge, code.trim()));
    } catch (err) {
      if (isApiError(err) && err.code === 'auth.mfa_challenge_invalid') {
        startOver('That took too long. Log in again.');
      } else {
        setError(loginErrorMessage(err));
        setCode('');
        codeRef.current?.focus();
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthLayout>
      <Card>
        {challenge ? (
          <>
            <h1 className="nx-login__title">Two-step verification</h1>
            <p className="nx-login__subtitle">
              Enter the 6-digit code from your authenticator app. Lost your phone? Enter one of your recovery
              codes instead.
            </p>
            <form className="nx-stack" onSubmit={onSubmitCode} noValidate data-testid="mfa-form">
              {error && (
                <Alert tone="danger" data-testid="login-error">
                  <span id="login-error">{error}</span>
                </Alert>
              )}
              <TextField
                ref={codeRef}
                label="Code"
                name="code"
                autoComplete="one-time-code"
                autoCapitalize="off"
                spellCheck={false}
                autoFocus
                value={code}
                error={codeError}
                onChange={(e) => setCode(e.target.value)}
              />
              <Button type="submit" block loading={busy}>
                Verify
              </Button>
              <Button variant="ghost" block onClick={() => startOver(null)}>
                Use another account
              </Button>
            </form>
          </>
        ) : (
          <>
            <h1 className="nx-login__title">Log in</h1>
            <p className="nx-login__subtitle" data-testid={reauth ? 'reauth' : undefined}>
              {reauth
                ? 'The app you came from asks you to sign in again to continue.'
                : 'Welcome back. Sign in to reach all your apps.'}
            </p>
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
              {passkeysSupported() && (
                <Button variant="secondary" block disabled={busy} onClick={() => void onPasskey()} data-testid="passkey-login">
                  Sign in with a passkey
                </Button>
              )}
            </form>
            {providers.length > 0 && (
              <div className="nx-stack nx-login__providers" data-testid="sso-providers">
                <p className="nx-login__or">or</p>
                {providers.map((provider) => (
                  <Button
                    key={provider.id}
                    variant="secondary"
                    block
                    disabled={busy}
                    onClick={() => onProvider(provider)}
                    data-testid="sso-login"
                  >
                    Sign in with {provider.name}
                  </Button>
                ))}
              </div>
            )}
          </>
        )}
      </Card>
      <p className="nx-login__aside">
        <Link href="/reset-password">Forgot your password?</Link>
      </p>
    </AuthLayout>
  );
}

/** The centred panel with the product's name that the login and reset pages share. */
export function AuthLayout({ children }: { children: ReactNode }) {
  const product = useProductName();
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
        <main className="nx-stack">{children}</main>
      </div>
    </div>
  );
}
