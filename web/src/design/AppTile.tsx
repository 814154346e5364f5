import { Link } from '../router';
import { Icon, hasIcon } from './icons';

export interface AppTileProps {
  id: string;
  name: string;
  description: string;
  href: string;
  icon: string;
  current?: boolean;
}

/** An app's icon by name, or the first letter of its name when the icon is unknown. */
export function AppIcon({ icon, name, size = 24 }: { icon: string; name: string; size?: number }) {
  if (hasIcon(icon)) return <Icon name={icon} size={size} />;
  const letter = (name.trim()[0] ?? '?').toUpperCase();
  return (
    <span aria-hidden="true" data-icon-fallback={icon}>
      {letter}
    </span>
  );
}

export function AppTile({ id, name, description, href, icon, current }: AppTileProps) {
  return (
    <Link
      href={href}
      className="nx-tile"
      data-testid={`app-tile-${id}`}
      aria-current={current ? 'page' : undefined}
    >
      <span className="nx-tile__icon">
        <AppIcon icon={icon} name={name} />
      </span>
      <span className="nx-tile__text">
        <span className="nx-tile__name">{name}</span>
        <span className="nx-tile__description">{description}</span>
      </span>
    </Link>
  );
}
