import { forwardRef, useId, type InputHTMLAttributes } from 'react';

export interface TextFieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, 'size'> {
  label: string;
  /** Shown below the field in red and exposed via aria-invalid / aria-describedby. */
  error?: string | null;
  /** Helper text below the field. */
  hint?: string;
}

export const TextField = forwardRef<HTMLInputElement, TextFieldProps>(function TextField(
  { label, error, hint, id, className, type = 'text', ...rest },
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
      <input
        ref={ref}
        id={inputId}
        type={type}
        className="nx-field__input"
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
