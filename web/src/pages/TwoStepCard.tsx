import { useEffect, useRef, useState, type FormEvent } from 'react';
import { encode } from 'uqr';
import { api, isApiError, type MfaStatus, type TotpEnrolment } from '../api';
import { Alert, Button, Card, Spinner, TextField } from '../design';

type View =
  | { kind: 'loading' }
  | { kind: 'failed'; message: string }
  | { kind: 'status'; status: MfaStatus }
  | { kind: 'enrolling'; enrolment: TotpEnrolment }
  | { kind: 'codes'; codes: string[] };

function message(err: unknown): string {
  return isApiError(err) ? err.message : 'Something went wrong. Try again.';
}

/** The otpauth URL as a QR code, drawn as SVG squares (no HTML injection, scales crisply). */
export function QrCode({ text, label }: { text: string; label: string }) {
  const qr = encode(text, { ecc: 'M', border: 2 });
  const cells: string[] = [];
  qr.data.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) cells.push(`M${x} ${y}h1v1h-1z`);
    }),
  );
  return (
    <svg
      className="nx-qr"
      role="img"
      aria-label={label}
      viewBox={`0 0 ${qr.size} ${qr.size}`}
      width="192"
      height="192"
      shapeRendering="crispEdges"
      data-testid="totp-qr"
    >
      <rect width={qr.size} height={qr.size} fill="#fff" />
      <path d={cells.join('')} fill="#000" />
    </svg>
  );
}

/** Groups a base32 secret in fours, as authenticator apps show it. */
export function groupSecret(secret: string): string {
  return secret.replace(/(.{4})/g, '$1 ').trim();
}

function Enrol({ enrolment, onDone, onCancel }: { enrolment: TotpEnrolment; onDone: (codes: string[]) => void; onCancel: () => void }) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLInputElement>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!/^\d{6}$/.test(code.replace(/[\s-]/g, ''))) {
      setError('Enter the 6-digit code your app shows now.');
      return ref.current?.focus();
    }
    setBusy(true);
    try {
      const { recovery_codes } = await api.confirmTotp(code);
      onDone(recovery_codes);
    } catch (err) {
      setError(
        isApiError(err) && err.code === 'auth.invalid_code'
          ? 'That code does not match. Check the clock on your phone, wait for the next code and try again.'
          : message(err),
      );
      setCode('');
      ref.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="nx-stack" onSubmit={submit} noValidate data-testid="totp-enrol">
      <p>
        Scan this code with an authenticator app (FreeOTP, Aegis, Google Authenticator, 1Password…), then enter the
        6-digit code it shows.
      </p>
      <QrCode text={enrolment.otpauth_url} label="QR code for your authenticator app" />
      <p>
        Cannot scan? Type this key into the app: <code data-testid="totp-secret">{groupSecret(enrolment.secret)}</code>
      </p>
      <TextField
        ref={ref}
        label="Code from the app"
        name="totp_code"
        inputMode="numeric"
        autoComplete="one-time-code"
        value={code}
        error={error}
        onChange={(e) => setCode(e.target.value)}
      />
      <div className="nx-row">
        <Button type="submit" loading={busy}>
          Turn on
        </Button>
        <Button variant="ghost" onClick={onCancel}>
          Cancel
        </Button>
      </div>
    </form>
  );
}

function RecoveryCodeList({ codes, onSaved }: { codes: string[]; onSaved: () => void }) {
  return (
    <div className="nx-stack">
      <Alert tone="warning" title="Save your recovery codes">
        Each code logs you in once if you lose your phone. Keep them somewhere safe — they are not shown again.
      </Alert>
      <ol className="nx-recovery-codes" data-testid="recovery-codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <div>
        <Button onClick={onSaved}>I have saved these codes</Button>
      </div>
    </div>
  );
}

function Manage({ status, onCodes, onRemoved }: { status: MfaStatus; onCodes: (codes: string[]) => void; onRemoved: () => void }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState<'codes' | 'remove' | null>(null);

  const run = async (what: 'codes' | 'remove') => {
    if (!password) {
      setError('Enter your password to confirm.');
      return;
    }
    setError(undefined);
    setBusy(what);
    try {
      if (what === 'codes') {
        onCodes((await api.newRecoveryCodes(password)).recovery_codes);
      } else {
        await api.removeTotp(password);
        onRemoved();
      }
    } catch (err) {
      setError(isApiError(err) && err.code === 'auth.invalid_credentials' ? 'That password is not correct.' : message(err));
    } finally {
      setBusy(null);
      setPassword('');
    }
  };

  return (
    <div className="nx-stack">
      <p data-testid="mfa-on">
        <strong>On</strong> — you log in with your password and a code from your authenticator app.{' '}
        {status.recovery_codes_left} recovery {status.recovery_codes_left === 1 ? 'code' : 'codes'} left.
      </p>
      {status.recovery_codes_left <= 2 && (
        <Alert tone="warning">Few recovery codes are left. Make new ones so you are not locked out.</Alert>
      )}
      <TextField
        label="Your password"
        name="confirm_password"
        type="password"
        autoComplete="current-password"
        hint="Needed to change two-step verification."
        value={password}
        error={error}
        onChange={(e) => setPassword(e.target.value)}
      />
      <div className="nx-row">
        <Button variant="secondary" loading={busy === 'codes'} onClick={() => void run('codes')}>
          New recovery codes
        </Button>
        <Button variant="danger" loading={busy === 'remove'} onClick={() => void run('remove')}>
          Turn off
        </Button>
      </div>
    </div>
  );
}

/** Two-step verification on the account page: set up, recovery codes, turn off. */
export function TwoStepCard() {
  const [view, setView] = useState<View>({ kind: 'loading' });
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = async (signal?: AbortSignal) => {
    try {
      setView({ kind: 'status', status: await api.mfaStatus({ signal }) });
    } catch (err) {
      if (!signal?.aborted) setView({ kind: 'failed', message: message(err) });
    }
  };

  useEffect(() => {
    const ctl = new AbortController();
    void load(ctl.signal);
    return () => ctl.abort();
  }, []);

  const begin = async () => {
    setBusy(true);
    setNotice(null);
    try {
      setView({ kind: 'enrolling', enrolment: await api.beginTotp() });
    } catch (err) {
      setNotice(message(err));
    } finally {
      setBusy(false);
    }
  };

  let body;
  switch (view.kind) {
    case 'loading':
      body = <Spinner label="Loading" />;
      break;
    case 'failed':
      body = <Alert tone="danger">{view.message}</Alert>;
      break;
    case 'enrolling':
      body = (
        <Enrol
          enrolment={view.enrolment}
          onDone={(codes) => setView({ kind: 'codes', codes })}
          onCancel={() => void load()}
        />
      );
      break;
    case 'codes':
      body = <RecoveryCodeList codes={view.codes} onSaved={() => void load()} />;
      break;
    case 'status':
      body = view.status.totp ? (
        <Manage
          status={view.status}
          onCodes={(codes) => setView({ kind: 'codes', codes })}
          onRemoved={() => {
            setNotice('Two-step verification is off.');
            void load();
          }}
        />
      ) : (
        <div className="nx-stack" data-testid="mfa-off">
          <p>
            <strong>Off.</strong> Add an authenticator app so that a stolen password alone cannot open your account.
          </p>
          <div>
            <Button loading={busy} onClick={() => void begin()}>
              Set up an authenticator app
            </Button>
          </div>
        </div>
      );
      break;
  }

  return (
    <Card title="Two-step verification" description="A code from your phone at each login." data-testid="two-step">
      <div className="nx-stack">
        {notice && <Alert tone="info">{notice}</Alert>}
        {body}
      </div>
    </Card>
  );
}
