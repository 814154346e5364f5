import { useEffect, useId, useRef, useState, type KeyboardEvent as ReactKeyboardEvent, type ReactNode } from 'react';
import { Link } from '../router';
import { Icon } from './icons';

export interface ShellUser {
  displayName: string;
  email: string;
  orgName?: string;
}

export interface NavItem {
  id: string;
  label: string;
  href: string;
}

export interface TopBarProps {
  productName: string;
  user?: ShellUser | null;
  nav?: NavItem[];
  currentPath?: string;
  onLogout?: () => void;
  /** Where the user menu's "Account" entry leads. */
  accountHref?: string;
  /** Where the user menu's "Administration" entry leads; no entry without it. */
  adminHref?: string;
  /** The organization's logo, shown instead of the product mark. */
  logoUrl?: string;
  /** The logo's text alternative (the organization's name). */
  logoAlt?: string;
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '?';
  const first = parts[0]?.[0] ?? '';
  const last = parts.length > 1 ? (parts[parts.length - 1]?.[0] ?? '') : '';
  return (first + last).toUpperCase();
}

function isCurrent(href: string, currentPath?: string): boolean {
  if (!currentPath) return false;
  if (href === '/') return currentPath === '/';
  return currentPath === href || currentPath.startsWith(`${href}/`);
}

export function UserMenu({
  user,
  onLogout,
  accountHref = '/account',
  adminHref,
}: {
  user: ShellUser;
  onLogout?: () => void;
  accountHref?: string;
  adminHref?: string;
}) {
  const [open, setOpen] = useState(false);
  const rootRef = useRef<HTMLDivElement>(null);
  const triggerRef = useRef<HTMLButtonElement>(null);
  const menuId = useId();

  useEffect(() => {
    if (!open) return;
    const onPointer = (event: PointerEvent) => {
      if (!rootRef.current?.contains(event.target as Node)) setOpen(false);
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') {
        setOpen(false);
        triggerRef.current?.focus();
      }
    };
    document.addEventListener('pointerdown', onPointer);
    document.addEventListener('keydown', onKey);
    // Move focus into the menu for keyboard users.
    rootRef.current?.querySelector<HTMLElement>('[role="menuitem"]')?.focus();
    return () => {
      document.removeEventListener('pointerdown', onPointer);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);

  const onMenuKey = (event: ReactKeyboardEvent<HTMLDivElement>) => {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    event.preventDefault();
    const items = Array.from(
      rootRef.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? [],
    );
    const index = items.indexOf(document.activeElement as HTMLElement);
    const next = event.key === 'ArrowDown' ? index + 1 : index - 1;
    items[(next + items.length) % items.length]?.focus();
  };

  return (
    <div className="nx-usermenu" ref={rootRef}>
      <button
        ref={triggerRef}
        type="button"
        className="nx-usermenu__trigger"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        data-testid="user-menu"
        onClick={() => setOpen((v) => !v)}
      >
        <span className="nx-avatar" aria-hidden="true">
          {initials(user.displayName)}
        </span>
        <span className="nx-usermenu__name">{user.displayName}</span>
        <span className="nx-visually-hidden">: account menu</span>
        <Icon name="chevronDown" size={16} />
      </button>
      {open && (
        <div id={menuId} className="nx-usermenu__menu" role="menu" aria-label="Account" onKeyDown={onMenuKey}>
          <div className="nx-usermenu__who" role="presentation">
            <div>{user.displayName}</div>
            <div className="nx-usermenu__email">{user.email}</div>
            {user.orgName && <div className="nx-usermenu__email">{user.orgName}</div>}
          </div>
          <Link
            href={accountHref}
            role="menuitem"
            className="nx-usermenu__item"
            onClick={() => setOpen(false)}
          >
            <Icon name="user" size={16} />
            Account
          </Link>
          {adminHref && (
            <Link
              href={adminHref}
              role="menuitem"
              className="nx-usermenu__item"
              data-testid="admin-link"
              onClick={() => setOpen(false)}
            >
              <Icon name="shield" size={16} />
              Administration
            </Link>
          )}
          <button
            type="button"
            role="menuitem"
            className="nx-usermenu__item"
            data-testid="logout"
            onClick={() => {
              setOpen(false);
              onLogout?.();
            }}
          >
            <Icon name="logout" size={16} />
            Log out
          </button>
        </div>
      )}
    </div>
  );
}

function ProductMark() {
  return (
    <span className="nx-topbar__logo" aria-hidden="true">
      <svg viewBox="0 0 32 32" width="18" height="18" fill="none" stroke="currentColor" strokeWidth="3.2" strokeLinecap="round" strokeLinejoin="round">
        <path d="M10 23V9l12 14V9" />
      </svg>
    </span>
  );
}

/** The organization's logo; falls back to the product mark if the image cannot be loaded. */
function OrgLogo({ src, alt }: { src: string; alt: string }) {
  const [failed, setFailed] = useState(false);
  if (failed) return <ProductMark />;
  return <img className="nx-topbar__org-logo" src={src} alt={alt} data-testid="org-logo" onError={() => setFailed(true)} />;
}

export function TopBar({
  productName,
  user,
  nav = [],
  currentPath,
  onLogout,
  accountHref,
  adminHref,
  logoUrl,
  logoAlt,
}: TopBarProps) {
  return (
    <header className="nx-topbar">
      <Link href="/" className="nx-topbar__brand" aria-label={`${productName} home`}>
        {logoUrl ? <OrgLogo key={logoUrl} src={logoUrl} alt={logoAlt ?? ''} /> : <ProductMark />}
        <span>{productName}</span>
      </Link>
      {nav.length > 0 && (
        <nav className="nx-topbar__nav" aria-label="Apps">
          {nav.map((item) => (
            <Link
              key={item.id}
              href={item.href}
              aria-current={isCurrent(item.href, currentPath) ? 'page' : undefined}
            >
              {item.label}
            </Link>
          ))}
        </nav>
      )}
      <div className="nx-topbar__spacer" />
      {user && <UserMenu user={user} onLogout={onLogout} accountHref={accountHref} adminHref={adminHref} />}
    </header>
  );
}

export interface AppShellProps extends TopBarProps {
  children: ReactNode;
}

/** The frame every signed-in page lives in: skip link, top bar and a main landmark. */
export function AppShell({ children, ...topBar }: AppShellProps) {
  return (
    <div className="nx-shell">
      <a className="nx-skip-link" href="#nx-main">
        Skip to content
      </a>
      <TopBar {...topBar} />
      <main id="nx-main" className="nx-main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}

export function PageHeader({ title, subtitle, children }: { title: ReactNode; subtitle?: ReactNode; children?: ReactNode }) {
  return (
    <div className="nx-page-header">
      <h1 className="nx-page-header__title">{title}</h1>
      {subtitle && <p className="nx-page-header__subtitle">{subtitle}</p>}
      {children}
    </div>
  );
}
