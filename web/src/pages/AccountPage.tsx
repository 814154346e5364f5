import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, isApiError } from '../api';
import { Alert, Button, Card, PageHeader, TextField } from '../design';
import { useLocation, useNavigate } from '../router';
import { useCurrentSession, useDocumentTitle, useSession } from '../session';
import { PasskeysCard } from './PasskeysCard';
import { SessionsCard } from './SessionsCard';
import { SsoLinksCard, ssoLinkResult, withoutSsoResult } from './SsoLinksCard';
import { TokensCard } from './TokensCard';
import { TwoStepCard } from './TwoStepCard';

const ROLE_LABELS: Record<string, string> = {
  owner: 'Owner',
  admin: 'Administrator',
  member: 'Member',
  guest: 'Guest',
};

export function roleLabel(role: string): string {
  return ROLE_LABELS[role] ?? role.charAt(0).toUpperCase() + role.slice(1);
}

interface PasswordErrors {
  current?: string;
  next?: string;
  confirm?: string;
}

function ChangePasswordForm({ onChanged }: { onChanged: () => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<PasswordErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [success, setSuccess] = useState(false);
  const [busy, setBusy] = useState(false);
  const refs = {
    current: useRef<HTMLInputElement>(null),
    next: useRef<HTMLInputElement>(null),
    confirm: useRef<HTMLInputElement>(null),
  };

  const focusFirst = (errs: PasswordErrors) => {
    const key = (['current', 'next', 'confirm'] as const).find((k) => errs[k]);
    if (key) refs[key].current?.focus();
  };

  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setSuccess(false);
    setFormError(null);
    const errs: PasswordErrors = {};
    if (!current) errs.current = 'Enter your current password.';
    // Strength rules live on the server (auth.weak_password); only the obvious is checked here.
    if (!next) errs.next = 'Choose a new password.';
    else if (next === current) errs.next = 'The new password must differ from the current one.';
    if (next && confirm !== next) errs.confirm = 'The two new passwords do not match.';
    setErrors(errs);
    if (Object.keys(errs).length > 0) return focusFirst(errs);

    setBusy(true);
    try {
      await api.changePassword(current, next);
      setCurrent('');
      setNext('');
      setConfirm('');
      setSuccess(true);
      onChanged();
    } catch (err) {
      if (isApiError(err) && err.code === 'auth.invalid_credentials') {
        const e = { current: 'Your current password is not correct.' };
        setErrors(e);
        focusFirst(e);
      } else if (isApiError(err) && err.code === 'auth.weak_password') {
        const e = { next: err.message || 'That password is too weak. Choose a longer one.' };
        setErrors(e);
        focusFirst(e);
      } else {
        setFormError(isApiError(err) ? err.message : 'Something went wrong. Try again.');
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="nx-stack" onSubmit={onSubmit} noValidate data-testid="change-password-form">
      {success && (
        <Alert tone="success" data-testid="password-changed">
          Your password has been changed.
        </Alert>
      )}
      {formError && <Alert tone="danger">{formError}</Alert>}
      <TextField
        ref={refs.current}
        label="Current password"
        name="current_password"
        type="password"
        autoComplete="current-password"
        value={current}
        error={errors.current}
        onChange={(e) => setCurrent(e.target.value)}
      />
      <TextField
        ref={refs.next}
        label="New password"
        name="new_password"
        type="password"
        autoComplete="new-password"
        hint="Use a long password you do not use anywhere else; a few unrelated words work well."
        value={next}
        error={errors.next}
        onChange={(e) => setNext(e.target.value)}
      />
      <TextField
        ref={refs.confirm}
        label="Repeat new password"
        name="confirm_password"
        type="password"
        autoComplete="new-password"
        value={confirm}
        error={errors.confirm}
        onChange={(e) => setConfirm(e.target.value)}
      />
      <div>
        <Button type="submit" loading={busy}>
          Change password
        </Button>
      </div>
    </form>
  );
}

export function AccountPage() {
  const session = useCurrentSession();
  const { passwordChanged } = useSession();
  useDocumentTitle('Account');
  const { user } = session;
  const location = useLocation();
  const navigate = useNavigate();
  // Back from linking the account to a provider: how it went, read once on arrival.
  const [linkResult, setLinkResult] = useState(() => ssoLinkResult(location.search));

  // The result does not linger in the address bar (nor come back on reloading the page).
  useEffect(() => {
    const cleaned = withoutSsoResult(location.pathname, location.search);
    if (cleaned !== null) navigate(cleaned, { replace: true, state: location.state });
    // Only on arrival.
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  return (
    <div className="nx-stack nx-stack--lg">
      <PageHeader title="Your account" subtitle="Your profile and how you sign in." />

      {session.must_change_password && (
        <Alert tone="warning" title="Choose your own password" data-testid="must-change-password">
          You signed in with a one-time password. Set a new password below before you continue.
        </Alert>
      )}

      {linkResult && (
        <Alert tone={linkResult.tone} onDismiss={() => setLinkResult(null)} data-testid="sso-link-result">
          {linkResult.message}
        </Alert>
      )}

      <div className="nx-account-grid">
        <Card title="Profile" description="Your administrator manages these details.">
          <dl className="nx-deflist" data-testid="profile">
            <div>
              <dt>Name</dt>
              <dd>{user.display_name}</dd>
            </div>
            <div>
              <dt>E-mail</dt>
              <dd>{user.email}</dd>
            </div>
            <div>
              <dt>Organization</dt>
              <dd>{user.org.name}</dd>
            </div>
            <div>
              <dt>Role</dt>
              <dd>{roleLabel(user.role)}</dd>
            </div>
          </dl>
        </Card>

        <Card title="Change password" description="Pick something only you know.">
          <ChangePasswordForm onChanged={passwordChanged} />
        </Card>

        {!session.must_change_password && <TwoStepCard />}
        {!session.must_change_password && <PasskeysCard />}
        {!session.must_change_password && <SsoLinksCard />}
        {!session.must_change_password && <SessionsCard />}
        {!session.must_change_password && <TokensCard />}
      </div>
    </div>
  );
}
