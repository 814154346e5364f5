import { forwardRef, type ButtonHTMLAttributes, type ReactNode } from 'react';
import { Spinner } from './Spinner';

export type ButtonVariant = 'primary' | 'secondary' | 'ghost' | 'danger';

export interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  variant?: ButtonVariant;
  size?: 'medium' | 'small';
  /** Shows a spinner, keeps the width, and blocks clicks while true. */
  loading?: boolean;
  /** Stretch to the container's width. */
  block?: boolean;
  icon?: ReactNode;
}

export const Button = forwardRef<HTMLButtonElement, ButtonProps>(function Button(
  {
    variant = 'primary',
    size = 'medium',
    loading = false,
    block = false,
    icon,
    type = 'button',
    className,
    disabled,
    children,
    onClick,
    ...rest
  },
  ref,
) {
  const classes = [
    'nx-button',
    `nx-button--${variant}`,
    size === 'small' && 'nx-button--small',
    block && 'nx-button--block',
    loading && 'nx-button--loading',
    className,
  ]
    .filter(Boolean)
    .join(' ');
  return (
    <button
      ref={ref}
      type={type}
      className={classes}
      disabled={disabled}
      aria-busy={loading || undefined}
      aria-disabled={loading || undefined}
      onClick={(event) => {
        if (loading) {
          event.preventDefault();
          return;
        }
        onClick?.(event);
      }}
      {...rest}
    >
      <span className="nx-button__label">
        {icon}
        {children}
      </span>
      {loading && (
        <span className="nx-button__spinner">
          <Spinner size="small" label="" />
        </span>
      )}
    </button>
  );
});
