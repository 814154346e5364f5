import { useId, useRef, useState, type FormEvent } from 'react';
import { isApiError, type Directory, type NewDirectory } from '../../api';
import { Alert, Button, Checkbox } from '../../design';
import { errorMessage, useTextFields } from './common';

/** What the server fills in when a field is left out; the form starts with these. */
export const DIRECTORY_DEFAULTS = {
  user_filter: '(objectClass=inetOrgPerson)',
  email_attribute: 'mail',
  name_attribute: 'cn',
  group_filter: '(objectClass=groupOfNames)',
  member_attribute: 'member',
} as const;

type Values = Omit<Required<NewDirectory>, 'starttls'>;
type Field = keyof Values;
type Errors = Partial<Record<Field | 'starttls', string>>;

/** In the form's order: the first one with an error takes the focus. */
const FIELDS: Field[] = [
  'name',
  'url',
  'bind_dn',
  'bind_password',
  'user_base',
  'user_filter',
  'email_attribute',
  'name_attribute',
  'group_base',
  'group_filter',
  'member_attribute',
];

function initialValues(directory?: Directory): Values {
  return {
    name: directory?.name ?? '',
    url: directory?.url ?? '',
    bind_dn: directory?.bind_dn ?? '',
    bind_password: '',
    user_base: directory?.user_base ?? '',
    user_filter: directory?.user_filter ?? DIRECTORY_DEFAULTS.user_filter,
    email_attribute: directory?.email_attribute ?? DIRECTORY_DEFAULTS.email_attribute,
    name_attribute: directory?.name_attribute ?? DIRECTORY_DEFAULTS.name_attribute,
    group_base: directory?.group_base ?? '',
    group_filter: directory?.group_filter ?? DIRECTORY_DEFAULTS.group_filter,
    member_attribute: directory?.member_attribute ?? DIRECTORY_DEFAULTS.member_attribute,
  };
}

/** The field a `validation.failed` message names, as in "user_base: give a DN…", if any. */
function fieldNamed(message: string): Field | 'starttls' | undefined {
  const named = /^\s*`?([a-z_]+)`?:/.exec(message)?.[1];
  if (named === 'starttls' || FIELDS.includes(named as Field)) return named as Field | 'starttls';
  // Otherwise anywhere in it; longest first, so that `name_attribute` is not taken for `name`.
  return [...FIELDS].sort((a, b) => b.length - a.length).find((f) => new RegExp(`\\b${f}\\b`).test(message));
}

/**
 * The settings of an outside directory, for adding one or changing it. With `initial` (changing),
 * an empty bind password keeps the current one. The server binds before it saves: when it
 * cannot, its message shows by the buttons and the form stays filled in.
 */
export function DirectoryForm({
  initial,
  submitLabel,
  onSubmit,
  onCancel,
}: {
  initial?: Directory;
  submitLabel: string;
  /** Throws to report an error; `bind_password` is empty when it should not change. */
  onSubmit: (directory: Required<NewDirectory>) => Promise<void>;
  onCancel?: () => void;
}) {
  const editing = initial !== undefined;
  const { values, errors, setErrors, field, focusFirstError } = useTextFields<Field, 'starttls'>(FIELDS, () =>
    initialValues(initial),
  );
  const [starttls, setStarttls] = useState(initial?.starttls ?? false);
  const [formError, setFormError] = useState<string | null>(null);
  const [unreachable, setUnreachable] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const starttlsRef = useRef<HTMLInputElement>(null);
  const starttlsId = `directory-starttls-${useId()}`;

  const focusFirst = (errs: Errors) => {
    if (!focusFirstError(errs) && errs.starttls) starttlsRef.current?.focus();
  };

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setFormError(null);
    setUnreachable(null);
    // Trimmed, but a password is taken as typed; emptied filters and attributes go back to the defaults.
    const v: Values = { ...values };
    for (const f of FIELDS) if (f !== 'bind_password') v[f] = v[f].trim();
    for (const f of Object.keys(DIRECTORY_DEFAULTS) as (keyof typeof DIRECTORY_DEFAULTS)[]) {
      v[f] = v[f] || DIRECTORY_DEFAULTS[f];
    }
    const errs: Errors = {};
    if (!v.name) errs.name = 'Name the directory, such as Head office.';
    if (!/^ldaps?:\/\/\S+$/.test(v.url)) errs.url = 'Enter the address with ldap:// or ldaps://, such as ldaps://dc1.example.com:636.';
    else if (starttls && v.url.startsWith('ldaps://')) {
      errs.starttls = 'An ldaps:// connection is encrypted already: untick StartTLS, or use ldap://.';
    }
    if (!v.bind_dn) errs.bind_dn = 'Enter the DN of the account NEXUS reads the directory with.';
    if (!editing && !v.bind_password) errs.bind_password = "Enter that account's password.";
    if (!v.user_base) errs.user_base = 'Enter where the users are, such as ou=people,dc=example,dc=com.';
    setErrors(errs);
    if (Object.keys(errs).length > 0) return focusFirst(errs);
    setBusy(true);
    try {
      await onSubmit({ ...v, starttls });
    } catch (err) {
      if (isApiError(err) && err.code === 'directory.unreachable') {
        setUnreachable(err.message);
      } else if (isApiError(err) && (err.code === 'conflict' || err.status === 409)) {
        const e = { name: err.message };
        setErrors(e);
        focusFirst(e);
      } else if (isApiError(err) && err.code === 'validation.failed' && fieldNamed(err.message)) {
        const e: Errors = { [fieldNamed(err.message) as Field]: err.message };
        setErrors(e);
        focusFirst(e);
      } else {
        setFormError(errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="nx-stack nx-stack--lg" onSubmit={submit} noValidate data-testid="directory-form">
      {formError && <Alert tone="danger">{formError}</Alert>}
      <fieldset className="nx-fieldset">
        <legend className="nx-section-title">Connection</legend>
        {field('name', 'Name', 'What to call it in NEXUS, such as Head office.')}
        {field('url', 'Server URL', 'ldap://host:389 or ldaps://host:636')}
        {field(
          'bind_dn',
          'Bind DN',
          'The account NEXUS reads the directory with, such as cn=nexus,ou=services,dc=example,dc=com. Reading is all it needs.',
        )}
        {field(
          'bind_password',
          'Bind password',
          editing ? 'Leave empty to keep the current password.' : 'Kept by NEXUS to sync, and never shown again.',
          'password',
        )}
        <div className={errors.starttls ? 'nx-field nx-field--invalid' : undefined}>
          <Checkbox
            ref={starttlsRef}
            id={starttlsId}
            label="Use StartTLS"
            description="Encrypts an ldap:// connection before signing in. Not for ldaps://, which is encrypted already."
            checked={starttls}
            aria-invalid={errors.starttls ? true : undefined}
            aria-describedby={[`${starttlsId}-description`, errors.starttls && `${starttlsId}-error`].filter(Boolean).join(' ')}
            onChange={(e) => setStarttls(e.target.checked)}
          />
          {errors.starttls && (
            <span id={`${starttlsId}-error`} className="nx-field__error">
              {errors.starttls}
            </span>
          )}
        </div>
      </fieldset>
      <fieldset className="nx-fieldset">
        <legend className="nx-section-title">Users</legend>
        {field('user_base', 'Users are under (base DN)', 'Such as ou=people,dc=example,dc=com; everything below it is searched.')}
        {field(
          'user_filter',
          'User filter',
          'Which entries are people. Active Directory: (&(objectClass=user)(objectCategory=person)).',
        )}
        {field('email_attribute', 'E-mail attribute', 'Holds the address people log in with; entries without one are skipped.')}
        {field('name_attribute', 'Name attribute', 'Holds the name shown to others. Active Directory: displayName.')}
      </fieldset>
      <fieldset className="nx-fieldset">
        <legend className="nx-section-title">Groups</legend>
        {field(
          'group_base',
          'Groups are under (base DN, optional)',
          'Such as ou=groups,dc=example,dc=com. Leave empty to bring in users only.',
        )}
        {field('group_filter', 'Group filter', 'Which entries are groups. Active Directory: (objectClass=group).')}
        {field('member_attribute', 'Member attribute', "Lists a group's members by DN.")}
      </fieldset>
      {unreachable && (
        <Alert tone="danger" title="NEXUS could not connect to the directory" data-testid="directory-unreachable">
          <p>{unreachable}</p>
          <p>Nothing has been saved. Check the address, the bind DN and password, then try again.</p>
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
