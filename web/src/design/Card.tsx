import { useId, type HTMLAttributes, type ReactNode } from 'react';

export interface CardProps extends Omit<HTMLAttributes<HTMLElement>, 'title'> {
  title?: ReactNode;
  description?: ReactNode;
  /** Element to render; a titled card is a <section> labelled by its title. */
  as?: 'section' | 'div' | 'article';
}

export function Card({ title, description, as, className, children, ...rest }: CardProps) {
  const Tag = as ?? (title ? 'section' : 'div');
  const autoId = useId();
  const titleId = title ? `nx-card-${autoId}` : undefined;
  return (
    <Tag className={['nx-card', className].filter(Boolean).join(' ')} aria-labelledby={titleId} {...rest}>
      {(title || description) && (
        <header className="nx-card__header">
          {title && (
            <h2 id={titleId} className="nx-card__title">
              {title}
            </h2>
          )}
          {description && <p className="nx-card__description">{description}</p>}
        </header>
      )}
      {children}
    </Tag>
  );
}
