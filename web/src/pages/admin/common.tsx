// Small pieces every section of the admin console shares.
import { useEffect, useRef, useState, type Dispatch, type ReactNode, type Ref, type SetStateAction } from 'react';
import { isApiError, type AdminUser, type DirectoryRef } from '../../api';
import { Alert, Button, Checkbox, SelectField, Spinner, TextField } from '../../design';
import { Link, useLocation } from '../../router';
import { useCurrentSession } from '../../session';

/** Whether the signed-in user is an owner, who alone may change directories and sign-in providers (the server checks again). */
export function useIsOwner(): boolean {
  return useCurrentSession().user.role === 'owner';
}

export function errorMessage(err: unknown): string {
  return isApiError(err) ? err.message : 'Something went wrong. Try again.';
}

export type Loaded<T> = { status: 'loading' } | { status: 'error'; message: string } | { status: 'ready'; data: T };

/**
 * Loads data for `key` (a new key starts over with a spinner). `reload` fetches again and
 * keeps showing the old data meanwhile; `update` changes the loaded data in place.
 */
export function useLoad<T>(key: string, load: (signal: AbortSignal) => Promise<T>) {
  const [state, setState] = useState<{ key: string; loaded: Loaded<T> }>({ key, loaded: { status: 'loading' } });
  const [attempt, setAttempt] = useState(0);
  const loadRef = useRef(load);
  useEffect(() => {
    loadRef.current = load;
  });

  useEffect(() => {
    const controller = new AbortController();
    loadRef.current(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ key, loaded: { status: 'ready', data } });
      },
      (err: unknown) => {
        if (!controller.signal.aborted) setState({ key, loaded: { status: 'error', message: errorMessage(err) } });
      },
    );
    return () => controller.abort();
  }, [key, attempt]);

  const loaded: Loaded<T> = state.key === key ? state.loaded : { status: 'loading' };
  const reload = () => setAttempt((n) => n + 1);
  const update = (change: (data: T) => T) =>
    setState((prev) =>
      prev.loaded.status === 'ready' ? { ...prev, loaded: { status: 'ready', data: change(prev.loaded.data) } } : prev,
    );
  return { loaded, reload, update };
}

/** Renders `children(data)` once loaded; a spinner before, an error with a retry on failure. */
export function LoadView<T>({
  loaded,
  reload,
  what,
  children,
}: {
  loaded: Loaded<T>;
  reload: () => void;
  /** For the spinner and the error title, e.g. "users". */
  what: string;
  children: (data: T) => ReactNode;
}) {
  if (loaded.status === 'loading') {
    return (
      <div className="nx-inline-loading">
        <Spinner label={`Loading ${what}`} />
      </div>
    );
  }
  if (loaded.status === 'error') {
    return (
      <Alert tone="danger" title={`The ${what} could not be loaded`} data-testid="admin-load-error">
        <p>{loaded.message}</p>
        <p className="nx-alert__actions">
          <Button variant="secondary" size="small" onClick={reload}>
            Try again
          </Button>
        </p>
      </Alert>
    );
  }
  return <>{children(loaded.data)}</>;
}

/** The `?id=` of the current address: which user, group or role a section shows. */
export function useSelectedId(): string | null {
  const { search } = useLocation();
  return new URLSearchParams(search).get('id');
}

/** A section's heading with its main action (e.g. "Add user") beside it. */
export function SectionHeader({ title, children }: { title: ReactNode; children?: ReactNode }) {
  return (
    <div className="nx-admin__header">
      <h2 className="nx-admin__title">{title}</h2>
      {children}
    </div>
  );
}

/**
 * The top of a list only owners change: its heading, with the `addLabel` button for owners while not adding; what
 * the list is (`children`); and for everyone else, that only owners can change it.
 */
export function OwnerListHeader({
  title,
  addLabel,
  isOwner,
  adding,
  onAdd,
  ownersOnly,
  ownersOnlyTestId,
  children,
}: {
  title: ReactNode;
  addLabel: ReactNode;
  isOwner: boolean;
  /** The add form is open: the button hides. */
  adding: boolean;
  onAdd: () => void;
  ownersOnly: ReactNode;
  ownersOnlyTestId: string;
  children: ReactNode;
}) {
  return (
    <>
      <SectionHeader title={title}>
        {isOwner && !adding && (
          <Button size="small" onClick={onAdd}>
            {addLabel}
          </Button>
        )}
      </SectionHeader>
      <p className="nx-muted">{children}</p>
      {!isOwner && (
        <p className="nx-muted" data-testid={ownersOnlyTestId}>
          {ownersOnly}
        </p>
      )}
    </>
  );
}

export function BackLink({ href, children }: { href: string; children: ReactNode }) {
  return (
    <Link href={href} className="nx-admin__back">
      ← {children}
    </Link>
  );
}

/** A failed action's message from the server, e.g. a 403 `auth.forbidden`. */
export function ActionError({ message, onDismiss }: { message: string | null; onDismiss: () => void }) {
  if (!message) return null;
  return (
    <Alert tone="danger" title="That did not work" onDismiss={onDismiss} data-testid="admin-action-error">
      {message}
    </Alert>
  );
}

/**
 * A secret the server shows only once (a one-time password, a client secret): shown with a
 * copy button until the administrator dismisses it, then gone for good.
 */
export function OneTimeSecret({
  title,
  children,
  secrets,
  onDone,
  testId,
}: {
  title: ReactNode;
  children: ReactNode;
  secrets: { label: string; value: string }[];
  onDone: () => void;
  testId?: string;
}) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async (label: string, value: string) => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(label);
    } catch {
      setCopied(null);
    }
  };
  return (
    <Alert tone="success" title={title} data-testid={testId}>
      <div className="nx-stack">
        <p>{children}</p>
        <dl className="nx-secret-list">
          {secrets.map((s) => (
            <div key={s.label}>
              <dt>{s.label}</dt>
              <dd className="nx-row">
                <code className="nx-secret" data-testid="one-time-secret">
                  {s.value}
                </code>
                {typeof navigator !== 'undefined' && navigator.clipboard && (
                  <Button variant="secondary" size="small" onClick={() => void copy(s.label, s.value)}>
                    {copied === s.label ? 'Copied' : 'Copy'}
                  </Button>
                )}
              </dd>
            </div>
          ))}
        </dl>
        <p className="nx-alert__actions">
          <Button size="small" onClick={onDone}>
            I have copied it
          </Button>
        </p>
      </div>
    </Alert>
  );
}

/** A button that asks before it acts: destructive actions take two clicks. */
export function ConfirmAction({
  label,
  question,
  confirmLabel,
  onConfirm,
  variant = 'secondary',
  testId,
  accessibleName,
}: {
  label: string;
  question: ReactNode;
  confirmLabel: string;
  /** Reports its own errors; the question closes when it settles. */
  onConfirm: () => Promise<void>;
  variant?: 'secondary' | 'danger' | 'ghost';
  testId?: string;
  /** Names the button for assistive technology when `label` alone is ambiguous (one per row). */
  accessibleName?: string;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (asking) confirmRef.current?.focus();
  }, [asking]);

  if (!asking) {
    return (
      <Button variant={variant} size="small" onClick={() => setAsking(true)} data-testid={testId} aria-label={accessibleName}>
        {label}
      </Button>
    );
  }
  return (
    <div className="nx-confirm" role="group" aria-label={accessibleName ?? label}>
      <p>{question}</p>
      <div className="nx-row">
        <Button
          ref={confirmRef}
          variant="danger"
          size="small"
          loading={busy}
          data-testid={testId && `${testId}-confirm`}
          onClick={async () => {
            setBusy(true);
            try {
              await onConfirm();
            } finally {
              setBusy(false);
              setAsking(false);
            }
          }}
        >
          {confirmLabel}
        </Button>
        <Button variant="ghost" size="small" onClick={() => setAsking(false)} disabled={busy}>
          Cancel
        </Button>
      </div>
    </div>
  );
}

/** A timestamp in the reader's locale, with the exact value for machines and tooltips. */
export function Time({ value }: { value: string }) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return <>{value}</>;
  return (
    <time dateTime={value} title={value}>
      {date.toLocaleString()}
    </time>
  );
}

export function userName(user: Pick<AdminUser, 'display_name' | 'email'>): string {
  return user.display_name || user.email;
}

/** Active, disabled, or still on a one-time password. */
export function UserStatus({ user }: { user: Pick<AdminUser, 'disabled' | 'must_change_password'> }) {
  if (user.disabled) return <span className="nx-badge nx-badge--danger">Disabled</span>;
  if (user.must_change_password) return <span className="nx-badge nx-badge--warning">Awaiting first login</span>;
  return <span className="nx-badge nx-badge--success">Active</span>;
}

/** "From NAME" on a user or group synced from an outside directory; nothing for NEXUS's own. */
export function DirectoryBadge({ directory }: { directory?: DirectoryRef | null }) {
  if (!directory) return null;
  return (
    <span className="nx-badge" title={`Synced from the directory ${directory.name}`} data-testid="directory-badge">
      From {directory.name}
    </span>
  );
}

/** Permission names as a compact list of codes. */
export function PermissionList({ permissions, empty = 'None' }: { permissions: string[]; empty?: string }) {
  if (permissions.length === 0) return <span className="nx-muted">{empty}</span>;
  return (
    <ul className="nx-code-list">
      {permissions.map((p) => (
        <li key={p}>
          <code>{p}</code>
        </li>
      ))}
    </ul>
  );
}

/** A select of candidates and an "Add"/"Grant" button; hidden when there is nobody to pick. */
export function PickAndAdd({
  label,
  button,
  options,
  onAdd,
}: {
  label: string;
  button: string;
  options: { id: string; label: string }[];
  onAdd: (id: string) => Promise<void>;
}) {
  const [picked, setPicked] = useState('');
  const [busy, setBusy] = useState(false);
  if (options.length === 0) return null;
  return (
    <div className="nx-row nx-row--end">
      <SelectField label={label} value={picked} onChange={(e) => setPicked(e.target.value)}>
        <option value="">Choose…</option>
        {options.map((o) => (
          <option key={o.id} value={o.id}>
            {o.label}
          </option>
        ))}
      </SelectField>
      <Button
        variant="secondary"
        disabled={!picked}
        loading={busy}
        onClick={async () => {
          setBusy(true);
          try {
            await onAdd(picked);
            setPicked('');
          } finally {
            setBusy(false);
          }
        }}
      >
        {button}
      </Button>
    </div>
  );
}

/** Checkboxes for the scopes a token may carry (an app's or a personal one). */
export function ScopeFieldset({
  fieldsetRef,
  offered,
  selected,
  onChange,
  hint,
  error,
}: {
  fieldsetRef: Ref<HTMLFieldSetElement>;
  offered: readonly { name: string; description: string }[];
  selected: string[];
  onChange: Dispatch<SetStateAction<string[]>>;
  hint: string;
  error?: string;
}) {
  return (
    <fieldset ref={fieldsetRef} className="nx-fieldset">
      <legend className="nx-field__label">Scopes</legend>
      <p className="nx-field__hint">{hint}</p>
      {offered.map((s) => (
        <Checkbox
          key={s.name}
          name="scopes"
          value={s.name}
          label={<code>{s.name}</code>}
          description={s.description}
          checked={selected.includes(s.name)}
          onChange={(e) => onChange((prev) => (e.target.checked ? [...prev, s.name] : prev.filter((x) => x !== s.name)))}
        />
      ))}
      {error && <span className="nx-field__error">{error}</span>}
    </fieldset>
  );
}

/**
 * The text fields `fields` (in the form's order) of a form: their values and errors, and `field(name, label, hint?,
 * type?)` to render one bound to them, which the browser does not fill in. `X` names further errors that are not
 * text fields, such as a checkbox's. `focusFirstError` focuses the first field with an error and says whether
 * there was one; `focus` focuses a field.
 */
export function useTextFields<F extends string, X extends string = never>(
  fields: readonly F[],
  initial: Record<F, string> | (() => Record<F, string>),
) {
  const [values, setValues] = useState(initial);
  const [errors, setErrors] = useState<Partial<Record<F | X, string>>>({});
  const inputs = useRef<Partial<Record<F, HTMLInputElement | null>>>({});

  const focus = (name: F) => inputs.current[name]?.focus();

  const focusFirstError = (errs: Partial<Record<F | X, string>>): boolean => {
    const first = fields.find((f) => errs[f]);
    if (!first) return false;
    focus(first);
    return true;
  };

  /** A text field bound to `values[name]`. */
  const field = (name: F, label: string, hint?: string, type = 'text') => (
    <TextField
      ref={(el) => {
        inputs.current[name] = el;
      }}
      label={label}
      hint={hint}
      type={type}
      autoComplete={type === 'password' ? 'new-password' : 'off'}
      spellCheck={false}
      value={values[name]}
      error={errors[name]}
      onChange={(e) => setValues((prev) => ({ ...prev, [name]: e.target.value }))}
    />
  );

  return { values, errors, setErrors, field, focus, focusFirstError };
}
