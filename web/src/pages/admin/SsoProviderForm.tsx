import { useEffect, useState, type FormEvent } from 'react';
import { isApiError, type SsoProvider, type SsoProviderSettings } from '../../api';
import { Alert, Button, Checkbox, TextField } from '../../design';
import { errorMessage, useTextFields } from './common';

type Field = 'name' | 'issuer' | 'client_id' | 'client_secret';
type Values = Record<Field, string>;
type Errors = Partial<Record<Field, string>>;

/** In the form's order: the first one with an error takes the focus. */
const FIELDS: Field[] = ['name', 'issuer', 'client_id', 'client_secret'];

/** The field a `validation.failed` message names, as in "issuer: must be an https URL…", if any. */
function fieldNamed(message: string): Field | undefined {
  const named = /^\s*`?([a-z_]+)`?:/.exec(message)?.[1];
  if (FIELDS.includes(named as Field)) return named as Field;
  // Otherwise anywhere in it; longest first, so that `client_secret` is found before `name`.
  return [...FIELDS].sort((a, b) => b.length - a.length).find((f) => new RegExp(`\\b${f}\\b`).test(message));
}

/** The address to register at the provider, read-only, with a copy button. */
export function RedirectUri({
  value,
  hint = 'Register NEXUS at the provider with this redirect URI (some call it the callback URL).',
}: {
  value: string;
  hint?: string;
}) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div className="nx-row nx-row--end nx-copy-field">
      <TextField
        label="Redirect URI"
        hint={hint}
        readOnly
        value={value}
        spellCheck={false}
        onFocus={(e) => e.target.select()}
        data-testid="sso-redirect-uri"
      />
      {typeof navigator !== 'undefined' && navigator.clipboard && (
        <Button variant="secondary" onClick={() => void copy()} aria-label={copied ? 'Copied' : 'Copy the redirect URI'}>
          {copied ? 'Copied' : 'Copy'}
        </Button>
      )}
    </div>
  );
}

/** Issuers compare without their trailing slash, as the server compares them. */
function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/**
 * The settings of a sign-in provider, for adding one or changing it. With `initial` (changing),
 * an empty client secret keeps the current one. The server fetches a new issuer's discovery
 * document before it saves: when it cannot, its message shows by the buttons and the form
 * stays filled in. With `redirectUri` (adding: the one the new provider gets), that address
 * shows first, to register at the provider before filling the rest in.
 */
export function SsoProviderForm({
  initial,
  redirectUri,
  submitLabel,
  onSubmit,
  onCancel,
  autoFocus = false,
}: {
  initial?: SsoProvider;
  /** The provider's redirect URI, shown read-only at the top of the form. */
  redirectUri?: string;
  submitLabel: string;
  /** Throws to report an error; `client_secret` is empty when it should not change. */
  onSubmit: (provider: Required<SsoProviderSettings>) => Promise<void>;
  onCancel?: () => void;
  /** Focus the first field on opening. */
  autoFocus?: boolean;
}) {
  const editing = initial !== undefined;
  const { values, setErrors, field, focus, focusFirstError } = useTextFields(FIELDS, {
    name: initial?.name ?? '',
    issuer: initial?.issuer ?? '',
    client_id: initial?.client_id ?? '',
    client_secret: '',
  });
  const [createUsers, setCreateUsers] = useState(initial?.create_users ?? false);
  const [trustEmail, setTrustEmail] = useState(initial?.trust_email ?? false);
  const [formError, setFormError] = useState<string | null>(null);
  const [unreachable, setUnreachable] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // Opened by a button: the first field takes the focus.
  useEffect(() => {
    if (autoFocus) focus('name');
    // Only when the form opens.
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  const showErrors = (errs: Errors) => {
    setErrors(errs);
    focusFirstError(errs);
  };

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setFormError(null);
    setUnreachable(null);
    // Trimmed, but a secret is taken as typed.
    const v: Values = {
      name: values.name.trim(),
      issuer: values.issuer.trim(),
      client_id: values.client_id.trim(),
      client_secret: values.client_secret,
    };
    const errs: Errors = {};
    if (!v.name) errs.name = 'Name the provider, such as Microsoft or Head office.';
    if (!v.issuer) errs.issuer = "Enter the provider's URL, such as https://login.example.com.";
    else if (!/^https?:\/\/\S+$/.test(v.issuer)) errs.issuer = 'Enter the URL with https://, such as https://login.example.com.';
    if (!v.client_id) errs.client_id = 'Enter the client ID the provider gave you for NEXUS.';
    if (!v.client_secret) {
      if (!initial) errs.client_secret = 'Enter the client secret the provider gave you.';
      else if (!sameIssuer(v.issuer, initial.issuer) || v.client_id !== initial.client_id) {
        errs.client_secret = 'Enter the client secret again: a new issuer URL or client ID needs it.';
      }
    }
    if (Object.keys(errs).length > 0) return showErrors(errs);
    setErrors({});
    setBusy(true);
    try {
      await onSubmit({ ...v, create_users: createUsers, trust_email: trustEmail });
    } catch (err) {
      if (isApiError(err) && err.code === 'sso.provider_unreachable') {
        setUnreachable(err.message);
      } else if (isApiError(err) && err.status === 409) {
        showErrors({ name: err.message });
      } else if (isApiError(err) && err.code === 'validation.failed' && fieldNamed(err.message)) {
        showErrors({ [fieldNamed(err.message) as Field]: err.message });
      } else {
        setFormError(errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="nx-stack" onSubmit={submit} noValidate data-testid="sso-form">
      {formError && <Alert tone="danger">{formError}</Alert>}
      {redirectUri && (
        <RedirectUri
          value={redirectUri}
          hint={
            editing
              ? undefined
              : 'Register NEXUS at the provider with this redirect URI first (some call it the callback URL).'
          }
        />
      )}
      {field('name', 'Name', 'Shown on the login page as “Sign in with …”.')}
      {field(
        'issuer',
        'Issuer URL',
        'Such as https://login.microsoftonline.com/TENANT-ID/v2.0 (Entra ID), https://sso.example.com/realms/staff (Keycloak) or the address of another NEXUS.',
      )}
      {field('client_id', 'Client ID', 'What the provider calls NEXUS, from registering it there.')}
      {field(
        'client_secret',
        'Client secret',
        editing ? 'Leave empty to keep the current secret.' : 'Kept by NEXUS, and never shown again.',
        'password',
      )}
      <Checkbox
        label="Create an account at first sign-in"
        description="Off: only people who already have an account here (same e-mail address) can sign in this way."
        checked={createUsers}
        onChange={(e) => setCreateUsers(e.target.checked)}
      />
      <Checkbox
        label="Trust the provider's e-mail addresses"
        description="For providers that do not say whether an address is verified, such as Microsoft Entra ID. Only turn on for a provider your organization controls."
        checked={trustEmail}
        onChange={(e) => setTrustEmail(e.target.checked)}
      />
      {unreachable && (
        <Alert tone="danger" title="NEXUS could not reach the provider" data-testid="sso-unreachable">
          <p>{unreachable}</p>
          <p>Nothing has been saved. Check the issuer URL, then try again.</p>
        </Alert>
      )}
      <div className="nx-row">
        <Button type="submit" loading={busy}>
          {submitLabel}
        </Button>
        {onCancel && (
          <Button variant="ghost" onClick={onCancel}>
            Cancel
          </Button>
        )}
      </div>
    </form>
  );
}
