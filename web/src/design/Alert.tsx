import type { ReactNode } from 'react';
import { Icon } from './icons';

export type AlertTone = 'info' | 'success' | 'warning' | 'danger';

export interface AlertProps {
  tone?: AlertTone;
  title?: ReactNode;
  children?: ReactNode;
  /** Shows a close button when given. */
  onDismiss?: () => void;
  className?: string;
  'data-testid'?: string;
}

const toneIcon: Record<AlertTone, string> = {
  info: 'info',
  success: 'success',
  warning: 'alert',
  danger: 'alert',
};

/**
 * An inline message. Danger alerts are announced immediately (role="alert");
 * the others politely (role="status").
 */
export function Alert({ tone = 'info', title, children, onDismiss, className, ...rest }: AlertProps) {
  return (
    <div
      className={['nx-alert', `nx-alert--${tone}`, className].filter(Boolean).join(' ')}
      role={tone === 'danger' ? 'alert' : 'status'}
      {...rest}
    >
      <Icon name={toneIcon[tone]} className="nx-alert__icon" size={18} />
      <div className="nx-alert__body">
        {title && <div className="nx-alert__title">{title}</div>}
        {children && <div>{children}</div>}
      </div>
      {onDismiss && (
        <button type="button" className="nx-button nx-button--ghost nx-button--small nx-alert__dismiss" onClick={onDismiss}>
          <Icon name="close" size={16} label="Dismiss" />
        </button>
      )}
    </div>
  );
}

/** A full-width alert for page-level notices (the same component, semantic alias). */
export const Banner = Alert;
