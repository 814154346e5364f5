import { useRef, useState, type FormEvent } from 'react';
import type { PermissionInfo, RoleInput } from '../../api';
import { Alert, Button, Checkbox, TextField } from '../../design';
import { errorMessage } from './common';

/** A custom role's name, description and permissions (one checkbox each). */
export function RoleForm({
  catalog,
  initial = { name: '', description: '', permissions: [] },
  submitLabel,
  onSubmit,
  onCancel,
}: {
  catalog: PermissionInfo[];
  initial?: RoleInput;
  submitLabel: string;
  /** Throws to report an error. */
  onSubmit: (role: RoleInput) => Promise<void>;
  onCancel?: () => void;
}) {
  const [name, setName] = useState(initial.name);
  const [description, setDescription] = useState(initial.description);
  const [chosen, setChosen] = useState<string[]>(initial.permissions);
  const [errors, setErrors] = useState<{ name?: string; permissions?: string }>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const nameRef = useRef<HTMLInputElement>(null);
  const permissionsRef = useRef<HTMLFieldSetElement>(null);

  const toggle = (permission: string, on: boolean) =>
    setChosen((prev) => (on ? [...prev, permission] : prev.filter((p) => p !== permission)));

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setFormError(null);
    const errs: typeof errors = {};
    if (!name.trim()) errs.name = 'Give the role a name that says what it is for, such as Helpdesk.';
    if (chosen.length === 0) errs.permissions = 'Tick at least one permission: a role without any grants nothing.';
    setErrors(errs);
    if (errs.name) return nameRef.current?.focus();
    if (errs.permissions) return permissionsRef.current?.querySelector('input')?.focus();
    setBusy(true);
    try {
      // In the catalogue's order, whatever order they were ticked in.
      const permissions = catalog.map((p) => p.name).filter((p) => chosen.includes(p));
      await onSubmit({ name: name.trim(), description: description.trim(), permissions });
    } catch (err) {
      setFormError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="nx-stack" onSubmit={submit} noValidate data-testid="role-form">
      {formError && <Alert tone="danger">{formError}</Alert>}
      <TextField ref={nameRef} label="Name" value={name} error={errors.name} onChange={(e) => setName(e.target.value)} />
      <TextField
        label="Description"
        hint="Optional: who should hold it."
        value={description}
        onChange={(e) => setDescription(e.target.value)}
      />
      <fieldset
        ref={permissionsRef}
        className="nx-fieldset"
        aria-describedby={errors.permissions ? 'role-permissions-error' : undefined}
      >
        <legend className="nx-field__label">Permissions</legend>
        <p className="nx-field__hint">You can only hand out permissions you hold yourself.</p>
        {catalog.map((p) => (
          <Checkbox
            key={p.name}
            name="permissions"
            value={p.name}
            label={<code>{p.name}</code>}
            description={p.description}
            checked={chosen.includes(p.name)}
            onChange={(e) => toggle(p.name, e.target.checked)}
          />
        ))}
        {errors.permissions && (
          <span id="role-permissions-error" className="nx-field__error">
            {errors.permissions}
          </span>
        )}
      </fieldset>
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
