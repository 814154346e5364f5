import { useRef, useState, type FormEvent } from 'react';
import { api, isApiError, type ApiToken, type CreatedApiToken } from '../api';
import { Alert, Button, Card, SelectField, TextField } from '../design';
import { useCurrentSession } from '../session';
import { ConfirmAction, LoadView, OneTimeSecret, ScopeFieldset, Time, errorMessage, useLoad } from './admin/common';
import { tokenScopes } from './admin/sections';

/** How long a new token lives; the server allows 1 to 366 days. */
const LIFETIMES: { days: number; label: string }[] = [
  { days: 7, label: '7 days' },
  { days: 30, label: '30 days' },
  { days: 90, label: '90 days' },
  { days: 365, label: '1 year' },
];

function CreateForm({ onCreated, onCancel }: { onCreated: (token: CreatedApiToken) => void; onCancel: () => void }) {
  const offered = tokenScopes(useCurrentSession().user.permissions);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>([]);
  const [days, setDays] = useState('90');
  const [errors, setErrors] = useState<{ name?: string; scopes?: string }>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const nameRef = useRef<HTMLInputElement>(null);
  const scopesRef = useRef<HTMLFieldSetElement>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setFormError(null);
    const errs: typeof errors = {};
    if (!name.trim()) errs.name = 'Name the token after what uses it, e.g. “Backup script”.';
    else if (name.trim().length > 100) errs.name = 'Keep the name to 100 characters.';
    if (scopes.length === 0) errs.scopes = 'Tick at least one scope: what the token may do.';
    setErrors(errs);
    if (errs.name) return nameRef.current?.focus();
    if (errs.scopes) return scopesRef.current?.querySelector('input')?.focus();
    setBusy(true);
    try {
      onCreated(
        await api.createToken({
          name: name.trim(),
          scopes: offered.map((s) => s.name).filter((s) => scopes.includes(s)),
          expires_in_days: Number(days),
        }),
      );
    } catch (err) {
      // 403: a scope the user does not hold (their role changed since the page loaded).
      if (isApiError(err) && err.code === 'auth.forbidden') setErrors({ scopes: err.message });
      else setFormError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="nx-stack" onSubmit={submit} noValidate data-testid="token-form">
      {formError && (
        <Alert tone="danger" data-testid="token-form-error">
          {formError}
        </Alert>
      )}
      <TextField
        ref={nameRef}
        label="Token name"
        name="token_name"
        autoComplete="off"
        hint="What uses it, so that you know what to revoke later."
        value={name}
        error={errors.name}
        onChange={(e) => setName(e.target.value)}
      />
      <ScopeFieldset
        fieldsetRef={scopesRef}
        offered={offered}
        selected={scopes}
        onChange={setScopes}
        hint="What the token may do. It can never do more than you can."
        error={errors.scopes}
      />
      <SelectField label="Expires after" name="expires_in_days" value={days} onChange={(e) => setDays(e.target.value)}>
        {LIFETIMES.map((l) => (
          <option key={l.days} value={String(l.days)}>
            {l.label}
          </option>
        ))}
      </SelectField>
      <div className="nx-row">
        <Button type="submit" loading={busy}>
          Create token
        </Button>
        <Button variant="ghost" onClick={onCancel}>
          Cancel
        </Button>
      </div>
    </form>
  );
}

function TokenStatus({ token }: { token: ApiToken }) {
  if (token.revoked_at) return <span className="nx-badge nx-badge--danger">Revoked</span>;
  if (new Date(token.expires_at).getTime() <= Date.now()) return <span className="nx-badge nx-badge--warning">Expired</span>;
  return <span className="nx-badge nx-badge--success">Active</span>;
}

function isActive(token: ApiToken): boolean {
  return !token.revoked_at && new Date(token.expires_at).getTime() > Date.now();
}

function TokenList({ tokens, onRevoke }: { tokens: ApiToken[]; onRevoke: (token: ApiToken) => Promise<void> }) {
  if (tokens.length === 0) return <p>You have no access tokens.</p>;
  return (
    <ul className="nx-item-list" data-testid="token-list">
      {tokens.map((t) => (
        <li key={t.id} data-testid="token">
          <div className="nx-stack">
            <div>
              <div className="nx-row">
                <strong>{t.name}</strong>
                <TokenStatus token={t} />
              </div>
              <div className="nx-muted nx-small">
                Created <Time value={t.created_at} />
                {t.revoked_at ? (
                  <>
                    , revoked <Time value={t.revoked_at} />
                  </>
                ) : (
                  <>
                    , expires <Time value={t.expires_at} />
                  </>
                )}
              </div>
            </div>
            <ul className="nx-code-list" aria-label={`Scopes of ${t.name}`}>
              {t.scopes.map((s) => (
                <li key={s}>
                  <code>{s}</code>
                </li>
              ))}
            </ul>
          </div>
          {isActive(t) && (
            <ConfirmAction
              label="Revoke"
              accessibleName={`Revoke ${t.name}`}
              question={`Revoke “${t.name}”? Whatever uses it stops working at once. This cannot be undone.`}
              confirmLabel="Revoke token"
              onConfirm={() => onRevoke(t)}
              testId="revoke-token"
            />
          )}
        </li>
      ))}
    </ul>
  );
}

/** The account page's personal access tokens: for scripts and tools that call the API as you. */
export function TokensCard() {
  const { loaded, reload, update } = useLoad('tokens', (signal) => api.tokens({ signal }).then((r) => r.tokens));
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedApiToken | null>(null);
  const [error, setError] = useState<string | null>(null);

  const revoke = async (token: ApiToken) => {
    setError(null);
    try {
      await api.revokeToken(token.id);
      const now = new Date().toISOString();
      update((tokens) => tokens.map((t) => (t.id === token.id ? { ...t, revoked_at: now } : t)));
    } catch (err) {
      setError(errorMessage(err));
      reload();
    }
  };

  return (
    <Card
      title="Access tokens"
      description="Personal tokens let scripts and tools call the NEXUS API as you, with only the scopes you choose."
      data-testid="tokens"
    >
      <div className="nx-stack">
        {error && (
          <Alert tone="danger" onDismiss={() => setError(null)} data-testid="tokens-error">
            {error}
          </Alert>
        )}
        {created && (
          <OneTimeSecret
            title={`Your token “${created.name}” is ready`}
            secrets={[{ label: 'Token', value: created.token }]}
            onDone={() => setCreated(null)}
            testId="token-created"
          >
            Copy it now: you will not see it again. Send it as <code>Authorization: Bearer TOKEN</code>. If it is lost,
            revoke it and create another.
          </OneTimeSecret>
        )}
        <LoadView loaded={loaded} reload={reload} what="access tokens">
          {(tokens) => <TokenList tokens={tokens} onRevoke={revoke} />}
        </LoadView>
        {creating ? (
          <CreateForm
            onCancel={() => setCreating(false)}
            onCreated={(token) => {
              setCreating(false);
              setCreated(token);
              const { token: _token, ...record } = token;
              update((tokens) => [record, ...tokens]);
            }}
          />
        ) : (
          <div>
            <Button
              variant="secondary"
              onClick={() => {
                setCreated(null);
                setError(null);
                setCreating(true);
              }}
            >
              New token
            </Button>
          </div>
        )}
      </div>
    </Card>
  );
}
