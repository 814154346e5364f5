import type { ReactNode } from 'react';
import { Button, EmptyState, Icon, PageHeader } from '../../design';
import { Link, Navigate, useNavigate } from '../../router';
import { useCurrentSession, useDocumentTitle } from '../../session';
import { AppsSection } from './AppsSection';
import { AuditSection } from './AuditSection';
import { DirectoriesSection } from './DirectoriesSection';
import { GroupsSection } from './GroupsSection';
import { HealthSection } from './HealthSection';
import { OrganizationSection } from './OrganizationSection';
import { RolesSection } from './RolesSection';
import { SECTIONS, sectionsFor, type SectionId } from './sections';
import { SsoSection } from './SsoSection';
import { UsersSection } from './UsersSection';

const render: Record<SectionId, () => ReactNode> = {
  users: () => <UsersSection />,
  groups: () => <GroupsSection />,
  roles: () => <RolesSection />,
  organization: () => <OrganizationSection />,
  directories: () => <DirectoriesSection />,
  sso: () => <SsoSection />,
  audit: () => <AuditSection />,
  apps: () => <AppsSection />,
  health: () => <HealthSection />,
};

/** The admin console at `/admin/<section>`; `/admin` opens the first section the user may see. */
export function AdminPage({ section }: { section: SectionId | null }) {
  const session = useCurrentSession();
  const navigate = useNavigate();
  const allowed = sectionsFor(session.user.permissions);
  const current = SECTIONS.find((s) => s.id === section);
  useDocumentTitle(current ? `${current.label} · Administration` : 'Administration');
  const org = session.user.org.name;

  if (allowed.length === 0) {
    return (
      <div data-testid="admin-denied">
        <EmptyState
          icon="shield"
          title="Administration is for administrators"
          description={`Your account cannot manage anything in ${org}. If you need to, ask an owner or administrator to give you a role that can.`}
          action={<Button onClick={() => navigate('/')}>Back to the Hub</Button>}
        />
      </div>
    );
  }
  const first = allowed[0];
  if (!current) return first ? <Navigate to={first.path} /> : null;

  return (
    <div className="nx-stack nx-stack--lg">
      <PageHeader title="Administration" subtitle={`People, roles, branding, directories, sign-in providers and apps of ${org}.`} />
      <div className="nx-admin">
        <nav className="nx-admin__nav" aria-label="Administration" data-testid="admin-nav">
          {allowed.map((s) => (
            <Link
              key={s.id}
              href={s.path}
              aria-current={s.id === current.id ? 'page' : undefined}
              data-testid={`admin-nav-${s.id}`}
            >
              <Icon name={s.icon} size={18} />
              {s.label}
            </Link>
          ))}
        </nav>
        <div className="nx-admin__content" data-testid={`admin-section-${current.id}`}>
          {allowed.includes(current) ? (
            render[current.id]()
          ) : (
            <EmptyState
              icon="shield"
              title={`You cannot open ${current.label}`}
              description={`It needs the permission ${current.needs}, which your account does not hold. Ask an owner or administrator if you need it.`}
            />
          )}
        </div>
      </div>
    </div>
  );
}
