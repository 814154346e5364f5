import { useEffect, useRef, useState, type ChangeEvent, type FormEvent } from 'react';
import { api, isApiError, type OrgSettings } from '../../api';
import { isBrandColor } from '../../branding';
import { Alert, Button, Card, TextField } from '../../design';
import { useOrgLogoUrl, useSession } from '../../session';
import { ConfirmAction, LoadView, SectionHeader, errorMessage, useLoad } from './common';

/** What the colour picker shows while the text field is empty or half-typed (the default primary). */
const DEFAULT_COLOR = '#3b5bdb';
const LOGO_TYPES = ['image/png', 'image/jpeg', 'image/webp'];
const MAX_LOGO_BYTES = 256 * 1024;

function NameAndColour({ org, onSaved }: { org: OrgSettings; onSaved: (org: OrgSettings) => void }) {
  const { brandingChanged } = useSession();
  const [name, setName] = useState(org.name);
  const [color, setColor] = useState(org.brand_color);
  const [errors, setErrors] = useState<{ name?: string; color?: string }>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const nameRef = useRef<HTMLInputElement>(null);
  const colorRef = useRef<HTMLInputElement>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setSaved(false);
    setFormError(null);
    const trimmed = color.trim().toLowerCase();
    const errs: typeof errors = {};
    if (!name.trim()) errs.name = "Enter the organization's name, as its people know it.";
    if (trimmed && !isBrandColor(trimmed)) errs.color = 'Enter # and six hex digits, such as #1a73e8, or leave it empty for the default.';
    setErrors(errs);
    if (errs.name) return nameRef.current?.focus();
    if (errs.color) return colorRef.current?.focus();
    setBusy(true);
    try {
      const updated = await api.admin.updateOrg(name.trim(), trimmed);
      setColor(updated.brand_color);
      onSaved(updated);
      setSaved(true);
      await brandingChanged();
    } catch (err) {
      if (isApiError(err) && err.code === 'validation.failed') {
        const e = { color: err.message };
        setErrors(e);
        colorRef.current?.focus();
      } else {
        setFormError(errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="Name and colour" description="Shown to everyone in the organization.">
      <form className="nx-stack" onSubmit={submit} noValidate data-testid="org-form">
        {saved && (
          <Alert tone="success" onDismiss={() => setSaved(false)} data-testid="org-saved">
            Saved. Others see the change the next time they open NEXUS.
          </Alert>
        )}
        {formError && <Alert tone="danger">{formError}</Alert>}
        <TextField ref={nameRef} label="Name" value={name} error={errors.name} onChange={(e) => setName(e.target.value)} />
        <div className={['nx-field', errors.color && 'nx-field--invalid'].filter(Boolean).join(' ')}>
          <label className="nx-field__label" htmlFor="org-brand-color">
            Brand colour
          </label>
          <div className="nx-row">
            <input
              type="color"
              className="nx-color-swatch"
              aria-label="Pick the brand colour"
              value={isBrandColor(color) ? color.toLowerCase() : DEFAULT_COLOR}
              onChange={(e) => setColor(e.target.value)}
              data-testid="brand-color-picker"
            />
            <input
              ref={colorRef}
              id="org-brand-color"
              className="nx-field__input nx-grow"
              placeholder="#1a73e8"
              autoComplete="off"
              spellCheck={false}
              value={color}
              aria-invalid={errors.color ? true : undefined}
              aria-describedby={['org-brand-color-hint', errors.color && 'org-brand-color-error'].filter(Boolean).join(' ')}
              onChange={(e) => setColor(e.target.value)}
            />
            <Button variant="ghost" onClick={() => setColor('')} disabled={!color}>
              Use the default
            </Button>
          </div>
          <span id="org-brand-color-hint" className="nx-field__hint">
            Buttons, links and highlights take this colour: # and six hex digits. Empty: the default blue.
          </span>
          {errors.color && (
            <span id="org-brand-color-error" className="nx-field__error">
              {errors.color}
            </span>
          )}
        </div>
        <div>
          <Button type="submit" loading={busy}>
            Save
          </Button>
        </div>
      </form>
    </Card>
  );
}

function Logo({ org, onChanged }: { org: OrgSettings; onChanged: (hasLogo: boolean) => void }) {
  const { brandingChanged } = useSession();
  const currentUrl = useOrgLogoUrl();
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);

  // A local preview of the chosen file, released when another is chosen or the form goes.
  useEffect(() => {
    let url: string | null = null;
    try {
      url = file ? URL.createObjectURL(file) : null;
    } catch {
      url = null; // No preview where the browser cannot make one; the upload still works.
    }
    setPreview(url);
    return () => {
      if (url) URL.revokeObjectURL(url);
    };
  }, [file]);

  const choose = (event: ChangeEvent<HTMLInputElement>) => {
    setDone(null);
    const chosen = event.target.files?.[0] ?? null;
    if (!chosen) return setFile(null);
    if (!LOGO_TYPES.includes(chosen.type)) {
      setFile(null);
      return setFileError('Choose a PNG, JPEG or WebP image; other formats (including SVG) are not accepted.');
    }
    if (chosen.size > MAX_LOGO_BYTES) {
      setFile(null);
      return setFileError(`That image is ${Math.ceil(chosen.size / 1024)} KiB; a logo must be at most 256 KiB. Make it smaller and try again.`);
    }
    setFileError(null);
    setFile(chosen);
  };

  const uploadIt = async () => {
    if (!file) return;
    setBusy(true);
    setFileError(null);
    try {
      await api.admin.uploadLogo(file);
      setFile(null);
      if (inputRef.current) inputRef.current.value = '';
      onChanged(true);
      setDone('The new logo is in place. It shows in the top bar for everyone.');
      await brandingChanged();
    } catch (err) {
      setFileError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const removeIt = async () => {
    setFileError(null);
    try {
      await api.admin.removeLogo();
      onChanged(false);
      setDone('The logo has been removed; the top bar shows the NEXUS mark again.');
      await brandingChanged();
    } catch (err) {
      setFileError(errorMessage(err));
    }
  };

  return (
    <Card title="Logo" description="Shown in the top bar instead of the NEXUS mark. PNG, JPEG or WebP, at most 256 KiB; a wide image about 28 pixels high looks best.">
      <div className="nx-stack">
        {done && (
          <Alert tone="success" onDismiss={() => setDone(null)} data-testid="logo-done">
            {done}
          </Alert>
        )}
        {fileError && (
          <Alert tone="danger" data-testid="logo-error">
            {fileError}
          </Alert>
        )}
        <div className="nx-logo-preview" data-testid="logo-preview">
          {preview ? (
            <img src={preview} alt="The chosen image, not uploaded yet" />
          ) : org.has_logo ? (
            <img src={currentUrl} alt={`${org.name}'s current logo`} />
          ) : (
            <span className="nx-muted">No logo yet.</span>
          )}
        </div>
        <div className="nx-field">
          <label className="nx-field__label" htmlFor="org-logo-file">
            Choose an image
          </label>
          <input
            ref={inputRef}
            id="org-logo-file"
            type="file"
            accept="image/png,image/jpeg,image/webp"
            onChange={choose}
            data-testid="logo-file"
          />
        </div>
        <div className="nx-row">
          <Button onClick={() => void uploadIt()} disabled={!file} loading={busy}>
            Upload logo
          </Button>
          {org.has_logo && (
            <ConfirmAction
              label="Remove logo"
              question="Remove the logo? The top bar shows the NEXUS mark again."
              confirmLabel="Remove logo"
              onConfirm={removeIt}
              testId="remove-logo"
            />
          )}
        </div>
      </div>
    </Card>
  );
}

export function OrganizationSection() {
  const { loaded, reload, update } = useLoad('org', (signal) => api.admin.org({ signal }));
  return (
    <div className="nx-stack">
      <SectionHeader title="Organization" />
      <LoadView loaded={loaded} reload={reload} what="organization settings">
        {(org) => (
          <div className="nx-stack nx-stack--lg">
            <NameAndColour org={org} onSaved={(updated) => update(() => updated)} />
            <Logo org={org} onChanged={(hasLogo) => update((o) => ({ ...o, has_logo: hasLogo }))} />
          </div>
        )}
      </LoadView>
    </div>
  );
}
