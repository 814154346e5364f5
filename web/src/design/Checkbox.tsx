import { forwardRef, useId, type InputHTMLAttributes, type ReactNode } from 'react';

export interface CheckboxProps extends Omit<InputHTMLAttributes<HTMLInputElement>, 'type'> {
  label: ReactNode;
  /** A second line under the label, linked with aria-describedby. */
  description?: ReactNode;
}

/** A checkbox with its label (and optional description) beside it. */
export const Checkbox = forwardRef<HTMLInputElement, CheckboxProps>(function Checkbox(
  { label, description, id, className, ...rest },
  ref,
) {
  const autoId = useId();
  const inputId = id ?? `check-${autoId}`;
  const descriptionId = description ? `${inputId}-description` : undefined;
  return (
    <div className={['nx-check', className].filter(Boolean).join(' ')}>
      <input ref={ref} id={inputId} type="checkbox" className="nx-check__input" aria-describedby={descriptionId} {...rest} />
      <div className="nx-check__text">
        <label htmlFor={inputId} className="nx-check__label">
          {label}
        </label>
        {description && (
          <span id={descriptionId} className="nx-check__description">
            {description}
          </span>
        )}
      </div>
    </div>
  );
});
