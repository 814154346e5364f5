import { useRef, useState, type FormEvent } from 'react';
import { Alert, Button, TextField } from '../../design';
import { errorMessage } from './common';

/** Name and description of a group, for creating one or changing it. */
export function GroupForm({
  initial = { name: '', description: '' },
  submitLabel,
  onSubmit,
  onCancel,
}: {
  initial?: { name: string; description: string };
  submitLabel: string;
  /** Throws to report an error. */
  onSubmit: (name: string, description: string) => Promise<void>;
  onCancel?: () => void;
}) {
  const [name, setName] = useState(initial.name);
  const [description, setDescription] = useState(initial.description);
  const [nameError, setNameError] = useState<string | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const nameRef = useRef<HTMLInputElement>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setFormError(null);
    if (!name.trim()) {
      setNameError('Give the group a name, such as Sales or Field staff.');
      return nameRef.current?.focus();
    }
    setNameError(null);
    setBusy(true);
    try {
      await onSubmit(name.trim(), description.trim());
    } catch (err) {
      setFormError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="nx-stack" onSubmit={submit} noValidate data-testid="group-form">
      {formError && <Alert tone="danger">{formError}</Alert>}
      <TextField ref={nameRef} label="Name" value={name} error={nameError} onChange={(e) => setName(e.target.value)} />
      <TextField
        label="Description"
        hint="Optional: who belongs in it."
        value={description}
        onChange={(e) => setDescription(e.target.value)}
      />
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
