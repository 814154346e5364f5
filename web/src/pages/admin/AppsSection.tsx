import { useRef, useState, type FormEvent } from 'react';
import { api, type OAuthClient, type RegisteredClient } from '../../api';
import { Alert, Button, Card, EmptyState, TextAreaField, TextField } from '../../design';
import { SCOPES } from './sections';
import {
  ActionError,
  ConfirmAction,
  LoadView,
  OneTimeSecret,
  ScopeFieldset,
  SectionHeader,
  Time,
  errorMessage,
  useLoad,
} from './common';

function RegisterForm({ onRegistered, onCancel }: { onRegistered: (client: RegisteredClient) => void; onCancel: () => void }) {
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>([]);
  const [redirects, setRedirects] = useState('');
  const [errors, setErrors] = useState<{ name?: string; scopes?: string }>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const nameRef = useRef<HTMLInputElement>(null);
  const scopesRef = useRef<HTMLFieldSetElement>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setFormError(null);
    const errs: typeof errors = {};
    if (!name.trim()) errs.name = 'Name the app, so that people know what they let in.';
    if (scopes.length === 0) errs.scopes = 'Tick at least one scope: what the app may do.';
    setErrors(errs);
    if (errs.name) return nameRef.current?.focus();
    if (errs.scopes) return scopesRef.current?.querySelector('input')?.focus();
    setBusy(true);
    try {
      const client = await api.admin.createClient({
        name: name.trim(),
        scopes: SCOPES.map((s) => s.name).filter((s) => scopes.includes(s)),
        redirect_uris: redirects
          .split('\n')
          .map((line) => line.trim())
          .filter(Boolean),
      });
      onRegistered(client);
    } catch (err) {
      setFormError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="Register an app" description="An app outside NEXUS that logs people in with NEXUS or calls its API.">
      <form className="nx-stack" onSubmit={submit} noValidate data-testid="client-form">
        {formError && <Alert tone="danger">{formError}</Alert>}
        <TextField ref={nameRef} label="Name" value={name} error={errors.name} onChange={(e) => setName(e.target.value)} />
        <ScopeFieldset
          fieldsetRef={scopesRef}
          offered={SCOPES}
          selected={scopes}
          onChange={setScopes}
          hint="The most a token of this app may carry. You can only grant what you hold yourself."
          error={errors.scopes}
        />
        <TextAreaField
          label="Redirect URIs"
          hint="One per line, such as https://wiki.example.com/oauth/callback. Needed for logging in with NEXUS; leave empty for a service that only calls the API."
          value={redirects}
          onChange={(e) => setRedirects(e.target.value)}
        />
        <div className="nx-row">
          <Button type="submit" loading={busy}>
            Register app
          </Button>
          <Button variant="ghost" onClick={onCancel}>
            Cancel
          </Button>
        </div>
      </form>
    </Card>
  );
}

function ClientTable({ clients, onDisable }: { clients: OAuthClient[]; onDisable: (client: OAuthClient) => Promise<void> }) {
  if (clients.length === 0) {
    return (
      <EmptyState
        icon="grid"
        title="No apps registered"
        description="Register an app to let it log people in with NEXUS (OpenID Connect) or call the API with its own credentials."
      />
    );
  }
  return (
    <div className="nx-table-wrap">
      <table className="nx-table" data-testid="client-table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Client ID</th>
            <th scope="col">Scopes</th>
            <th scope="col">Redirect URIs</th>
            <th scope="col">Registered</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {clients.map((c) => (
            <tr key={c.client_id}>
              <td>{c.name}</td>
              <td>
                <code className="nx-break">{c.client_id}</code>
              </td>
              <td>{c.scopes.join(' ')}</td>
              <td className="nx-break">
                {c.redirect_uris.length ? (
                  <ul className="nx-plain-list">
                    {c.redirect_uris.map((uri) => (
                      <li key={uri}>{uri}</li>
                    ))}
                  </ul>
                ) : (
                  <span className="nx-muted">—</span>
                )}
              </td>
              <td>
                <Time value={c.created_at} />
              </td>
              <td>
                {c.disabled ? (
                  <span className="nx-badge nx-badge--danger">Disabled</span>
                ) : (
                  <div className="nx-stack">
                    <span className="nx-badge nx-badge--success">Active</span>
                    <ConfirmAction
                      label="Disable"
                      question={`Disable ${c.name}? Its tokens stop working at once, and this cannot be undone: register it again to bring it back.`}
                      confirmLabel="Disable app"
                      onConfirm={() => onDisable(c)}
                    />
                  </div>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function AppsSection() {
  const { loaded, reload, update } = useLoad('clients', (signal) => api.admin.clients({ signal }).then((r) => r.clients));
  const [registering, setRegistering] = useState(false);
  const [registered, setRegistered] = useState<RegisteredClient | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);

  const disable = async (client: OAuthClient) => {
    setActionError(null);
    try {
      await api.admin.disableClient(client.client_id);
      update((clients) => clients.map((c) => (c.client_id === client.client_id ? { ...c, disabled: true } : c)));
    } catch (err) {
      setActionError(errorMessage(err));
    }
  };

  return (
    <div className="nx-stack">
      <SectionHeader title="Apps">
        {!registering && (
          <Button
            size="small"
            onClick={() => {
              setRegistered(null);
              setRegistering(true);
            }}
          >
            Register an app
          </Button>
        )}
      </SectionHeader>
      <ActionError message={actionError} onDismiss={() => setActionError(null)} />
      {registered && (
        <OneTimeSecret
          title={`${registered.name} is registered`}
          secrets={[
            { label: 'Client ID', value: registered.client_id },
            { label: 'Client secret', value: registered.client_secret },
          ]}
          onDone={() => setRegistered(null)}
          testId="client-secret"
        >
          Enter these in the app&apos;s settings. Copy the secret now: it is shown only this once. If it is lost, disable
          the app and register it again.
        </OneTimeSecret>
      )}
      {registering && (
        <RegisterForm
          onCancel={() => setRegistering(false)}
          onRegistered={(client) => {
            setRegistering(false);
            setRegistered(client);
            const { client_secret: _secret, ...listed } = client;
            update((clients) => [...clients, listed]);
          }}
        />
      )}
      <LoadView loaded={loaded} reload={reload} what="apps">
        {(clients) => <ClientTable clients={clients} onDisable={disable} />}
      </LoadView>
    </div>
  );
}
