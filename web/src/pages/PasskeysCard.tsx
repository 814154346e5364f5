import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, isApiError, type PasskeyInfo } from '../api';
import { Alert, Button, Card, Spinner, TextField } from '../design';
import { creationOptions, credentialToJson, passkeysSupported, webauthnErrorMessage } from '../webauthn';

function message(err: unknown): string {
  return isApiError(err) ? err.message : 'Something went wrong. Try again.';
}

function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : 'never';
}

/** The account page's passkeys: the list, adding one on this device, and removing. */
export function PasskeysCard() {
  const [keys, setKeys] = useState<PasskeyInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [nameError, setNameError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [added, setAdded] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setKeys((await api.passkeys()).passkeys);
    } catch (err) {
      setError(message(err));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const add = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setError(null);
    setAdded(null);
    if (!name.trim()) {
      setNameError('Name the passkey after the device it is on, e.g. “Work laptop”.');
      return;
    }
    setNameError(undefined);
    setBusy(true);
    try {
      const { ceremony, options } = await api.beginPasskeyRegistration(name.trim());
      let credential: Credential | null;
      try {
        credential = await navigator.credentials.create(creationOptions(options));
      } catch (err) {
        setError(webauthnErrorMessage(err));
        return;
      }
      if (!credential) {
        setError(webauthnErrorMessage(null));
        return;
      }
      const key = await api.finishPasskeyRegistration(ceremony, credentialToJson(credential as PublicKeyCredential));
      setName('');
      setAdded(key.name);
      await load();
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };

  const remove = async (key: PasskeyInfo) => {
    if (!window.confirm(`Remove the passkey “${key.name}”? You can no longer sign in with it.`)) return;
    setError(null);
    setAdded(null);
    try {
      await api.removePasskey(key.id);
      await load();
    } catch (err) {
      setError(message(err));
    }
  };

  return (
    <Card
      title="Passkeys"
      description="Sign in with your device's fingerprint, face or PIN instead of a password. A passkey counts as both steps of two-step verification."
    >
      <div className="nx-stack" data-testid="passkeys">
        {error && <Alert tone="danger">{error}</Alert>}
        {added && (
          <Alert tone="success" data-testid="passkey-added">
            The passkey “{added}” is ready. Next time, choose “Sign in with a passkey”.
          </Alert>
        )}
        {keys === null && !error && <Spinner label="Loading passkeys" />}
        {keys && keys.length === 0 && <p>You have no passkeys yet.</p>}
        {keys && keys.length > 0 && (
          <ul className="nx-stack" data-testid="passkey-list">
            {keys.map((k) => (
              <li key={k.id} className="nx-row">
                <span>
                  <strong>{k.name}</strong> — added {when(k.created_at)}, last used {when(k.last_used_at)}
                </span>
                <Button variant="ghost" onClick={() => void remove(k)} aria-label={`Remove passkey ${k.name}`}>
                  Remove
                </Button>
              </li>
            ))}
          </ul>
        )}
        {passkeysSupported() ? (
          <form className="nx-stack" onSubmit={add} noValidate>
            <TextField
              label="Passkey name"
              name="passkey_name"
              autoComplete="off"
              value={name}
              error={nameError}
              onChange={(e) => setName(e.target.value)}
            />
            <div>
              <Button type="submit" loading={busy}>
                Add a passkey
              </Button>
            </div>
          </form>
        ) : (
          <p>This browser cannot create passkeys.</p>
        )}
      </div>
    </Card>
  );
}
