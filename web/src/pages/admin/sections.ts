// The admin console's sections and who may open them. The server checks every request
// again; this only decides what the console shows.
import type { BuiltinRole, Permission } from '../../api';

export type SectionId =
  | 'users'
  | 'groups'
  | 'roles'
  | 'organization'
  | 'directories'
  | 'sso'
  | 'audit'
  | 'apps'
  | 'health';

export interface Section {
  id: SectionId;
  label: string;
  path: string;
  icon: string;
  /** The permission the section needs. */
  needs: Permission;
}

export const SECTIONS: Section[] = [
  { id: 'users', label: 'Users', path: '/admin/users', icon: 'user', needs: 'users:read' },
  { id: 'groups', label: 'Groups', path: '/admin/groups', icon: 'users', needs: 'users:read' },
  { id: 'roles', label: 'Roles', path: '/admin/roles', icon: 'shield', needs: 'users:read' },
  { id: 'organization', label: 'Organization', path: '/admin/organization', icon: 'briefcase', needs: 'org:manage' },
  { id: 'directories', label: 'Directories', path: '/admin/directories', icon: 'server', needs: 'org:manage' },
  { id: 'sso', label: 'Sign-in providers', path: '/admin/sso', icon: 'key', needs: 'org:manage' },
  { id: 'audit', label: 'Audit log', path: '/admin/audit', icon: 'file', needs: 'audit:read' },
  { id: 'apps', label: 'Apps', path: '/admin/apps', icon: 'grid', needs: 'clients:manage' },
  { id: 'health', label: 'Instance health', path: '/admin/health', icon: 'bell', needs: 'system:read' },
];

/** The sections a user holding `permissions` may open, in console order. */
export function sectionsFor(permissions: readonly string[]): Section[] {
  return SECTIONS.filter((s) => permissions.includes(s.needs));
}

/** Whether the console has anything for this user (and the menu shows "Administration"). */
export function canAdminister(permissions: readonly string[]): boolean {
  return sectionsFor(permissions).length > 0;
}

/** What the scopes of an OAuth client allow, for the "Register an app" form. */
export const SCOPES: { name: string; description: string }[] = [
  { name: 'openid', description: 'log users in with their NEXUS account (OpenID Connect)' },
  { name: 'profile', description: "read the user's name" },
  { name: 'email', description: "read the user's e-mail address" },
  { name: 'users:read', description: "see the organization's users, groups and roles" },
  { name: 'users:manage', description: 'add, disable and reset users, manage groups, grant roles' },
  { name: 'roles:manage', description: 'define custom roles' },
  { name: 'org:manage', description: 'rename the organization and change its branding' },
  { name: 'audit:read', description: "read the organization's audit log" },
  { name: 'clients:manage', description: 'register and disable OAuth clients' },
];

/** Scopes every signed-in user may give a token; the others are permissions. */
export const BASE_SCOPES: readonly string[] = ['openid', 'profile', 'email'];

/** The scopes a user holding `permissions` may give a personal access token, in `SCOPES` order. */
export function tokenScopes(permissions: readonly string[]): { name: string; description: string }[] {
  return SCOPES.filter((s) => BASE_SCOPES.includes(s.name) || permissions.includes(s.name));
}

/** Built-in roles in the order a select offers them; only owners may hand out "owner". */
export function roleChoices(isOwner: boolean): BuiltinRole[] {
  return isOwner ? ['member', 'guest', 'admin', 'owner'] : ['member', 'guest', 'admin'];
}
