import { forwardRef, useId, type TextareaHTMLAttributes } from 'react';

export interface TextAreaFieldProps extends TextareaHTMLAttributes<HTMLTextAreaElement> {
  label: string;
  /** Shown below the field in red and exposed via aria-invalid / aria-describedby. */
  error?: string | null;
  /** Helper text below the field. */
  hint?: string;
}

/** A labelled multi-line text field, styled like TextField. */
export const TextAreaField = forwardRef<HTMLTextAreaElement, TextAreaFieldProps>(function TextAreaField(
  { label, error, hint, id, className, rows = 3, ...rest },
  ref,
) {
  const autoId = useId();
  const inputId = id ?? `field-${autoId}`;
  const hintId = hint ? `${inputId}-hint` : undefined;
  const errorId = error ? `${inputId}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(' ') || undefined;
  const classes = ['nx-field', error && 'nx-field--invalid', className].filter(Boolean).join(' ');
  return (
    <div className={classes}>
      <label className="nx-field__label" htmlFor={inputId}>
        {label}
      </label>
      <textarea
        ref={ref}
        id={inputId}
        rows={rows}
        className="nx-field__input nx-field__textarea"
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy}
        {...rest}
      />
      {hint && (
        <span id={hintId} className="nx-field__hint">
          {hint}
        </span>
      )}
      {error && (
        <span id={errorId} className="nx-field__error">
          {error}
        </span>
      )}
    </div>
  );
});
