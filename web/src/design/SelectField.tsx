import { forwardRef, useId, type ReactNode, type SelectHTMLAttributes } from 'react';

export interface SelectFieldProps extends Omit<SelectHTMLAttributes<HTMLSelectElement>, 'size'> {
  label: string;
  /** Shown below the field in red and exposed via aria-invalid / aria-describedby. */
  error?: string | null;
  /** Helper text below the field. */
  hint?: string;
  children: ReactNode;
}

/** A labelled native <select>, styled like TextField. */
export const SelectField = forwardRef<HTMLSelectElement, SelectFieldProps>(function SelectField(
  { label, error, hint, id, className, children, ...rest },
  ref,
) {
  const autoId = useId();
  const selectId = id ?? `field-${autoId}`;
  const hintId = hint ? `${selectId}-hint` : undefined;
  const errorId = error ? `${selectId}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(' ') || undefined;
  const classes = ['nx-field', error && 'nx-field--invalid', className].filter(Boolean).join(' ');
  return (
    <div className={classes}>
      <label className="nx-field__label" htmlFor={selectId}>
        {label}
      </label>
      <select
        ref={ref}
        id={selectId}
        className="nx-field__input nx-field__select"
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy}
        {...rest}
      >
        {children}
      </select>
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
