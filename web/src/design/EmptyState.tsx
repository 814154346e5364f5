import type { ReactNode } from 'react';
import { Icon } from './icons';

export interface EmptyStateProps {
  icon?: string;
  title: ReactNode;
  description?: ReactNode;
  action?: ReactNode;
}

export function EmptyState({ icon = 'compass', title, description, action }: EmptyStateProps) {
  return (
    <div className="nx-empty">
      <div className="nx-empty__icon">
        <Icon name={icon} size={26} />
      </div>
      <h2 className="nx-empty__title">{title}</h2>
      {description && <p className="nx-empty__description">{description}</p>}
      {action && <div className="nx-empty__action">{action}</div>}
    </div>
  );
}
