// Typed client for the NEXUS HTTP API (served by nexusd on the same origin).
//
// Every request is same-origin with cookies; JSON bodies carry
// `Content-Type: application/json`, which the server requires on
// state-changing requests as its CSRF defence. Failures become `ApiError`,
// parsed from the server's `{"error":{"code":"...","message":"..."}}` shape.

// ---- Wire types ------------------------------------------------------------

export interface Product {
  name: string;
  version: string;
}

export interface AppInfo {
  id: string;
  name: string;
  description: string;
  path: string;
  icon: string;
}

export interface AppsResponse {
  product: Product;
  apps: AppInfo[];
}

export interface Org {
  id: string;
  slug: string;
  name: string;
  /** Accent colour `#rrggbb` for the shell; empty for the default. */
  brand_color: string;
  /** Whether `GET /api/org/logo` has an image. */
  has_logo: boolean;
}

export interface User {
  id: string;
  email: string;
  display_name: string;
  role: string;
  org: Org;
  /** What the user may do (built-in role and custom roles), e.g. `users:read`. */
  permissions: string[];
}

export interface Session {
  user: User;
  must_change_password: boolean;
}

/** `POST /api/session` for an account with a second factor: no session until a code follows. */
export interface MfaChallenge {
  mfa: {
    challenge: string;
    /** `totp`, `recovery_code`. */
    methods: string[];
    /** Seconds the challenge stays valid. */
    expires_in: number;
  };
}

export function isMfaChallenge(value: Session | MfaChallenge): value is MfaChallenge {
  return (value as MfaChallenge).mfa !== undefined;
}

export interface MfaStatus {
  totp: boolean;
  recovery_codes_left: number;
}

export interface TotpEnrolment {
  /** Base32, for typing into the app. */
  secret: string;
  /** `otpauth://totp/…`, for the QR code. */
  otpauth_url: string;
}

export interface RecoveryCodes {
  recovery_codes: string[];
}

// ---- Administration (`/api/admin/…`) ----------------------------------------

/** The permissions a role can carry; each admin endpoint needs one of them. */
export type Permission =
  | 'users:read'
  | 'users:manage'
  | 'roles:manage'
  | 'org:manage'
  | 'audit:read'
  | 'clients:manage'
  | 'system:read';

export type BuiltinRole = 'owner' | 'admin' | 'member' | 'guest';

export interface PermissionInfo {
  name: string;
  description: string;
}

export interface PermissionCatalog {
  permissions: PermissionInfo[];
  builtin_roles: { name: string; permissions: string[] }[];
}

/** The outside directory a user or group was brought in from. */
export interface DirectoryRef {
  id: string;
  name: string;
}

export interface AdminUser {
  id: string;
  email: string;
  display_name: string;
  role: string;
  disabled: boolean;
  /** Still on a one-time password. */
  must_change_password: boolean;
  created_at: string;
  /** Synced from an outside directory (they log in with its password); null for NEXUS's own. */
  directory?: DirectoryRef | null;
}

/** `POST /api/admin/users`: the new user and their one-time password (in this answer only). */
export interface AddedUser extends AdminUser {
  one_time_password: string;
}

export interface CustomRole {
  id: string;
  name: string;
  description: string;
  permissions: string[];
  created_at: string;
}

export interface AdminUserDetail extends AdminUser {
  /** Group ids. */
  groups: string[];
  /** Custom roles held, directly or through a group. */
  roles: CustomRole[];
  permissions: string[];
}

export interface NewUser {
  email: string;
  display_name?: string;
  role?: BuiltinRole;
}

export interface UserChange {
  role?: BuiltinRole;
  disabled?: boolean;
}

export interface OneTimePassword {
  one_time_password: string;
}

export interface Group {
  id: string;
  name: string;
  description: string;
  member_count: number;
  created_at: string;
  /** Synced from an outside directory, and read-only in NEXUS; null for NEXUS's own. */
  directory?: DirectoryRef | null;
}

export interface GroupDetail extends Group {
  members: AdminUser[];
}

export interface RoleDetail extends CustomRole {
  /** User ids the role is granted to directly. */
  users: string[];
  /** Group ids whose members hold the role. */
  groups: string[];
}

export interface RoleInput {
  name: string;
  description: string;
  permissions: string[];
}

export interface OrgSettings extends Org {
  created_at: string;
}

/** One audit record, exactly as the server hashed it. */
export interface AuditRecord {
  seq: number;
  /** RFC 3339, UTC. */
  at: string;
  org_id: string;
  /** A user (`email (id)`), `operator:<unix user>`, `client:<id>` or `system`. */
  actor: string;
  /** The client address, or `local`. */
  source: string;
  /** `area.verb`, e.g. `user.created`. */
  action: string;
  /** `user:<id>`, `org:<id>`, … */
  target: string;
  /** A JSON object, as text. */
  detail: string;
  prev_hash: string;
  hash: string;
}

export interface AuditPage {
  records: AuditRecord[];
  /** Pass as `after` to get the records that follow. */
  next_after: number;
}

export interface OAuthClient {
  client_id: string;
  name: string;
  scopes: string[];
  redirect_uris: string[];
  created_at: string;
  disabled: boolean;
}

/** `POST /api/admin/clients`: the client and its secret (in this answer only). */
export interface RegisteredClient extends OAuthClient {
  client_secret: string;
}

export interface NewClient {
  name: string;
  scopes: string[];
  redirect_uris: string[];
}

/** What one sync of a directory changed (`POST /api/admin/directories/{id}/sync`). */
export interface SyncReport {
  users_created: number;
  users_updated: number;
  users_disabled: number;
  groups_created: number;
  groups_updated: number;
  groups_deleted: number;
  /** Entries left out, and why (no e-mail address, say). */
  skipped: { entry: string; reason: string }[];
}

/** An outside LDAP / Active Directory server the organization's users and groups come from. */
export interface Directory {
  id: string;
  name: string;
  /** `ldap://host:389` or `ldaps://host:636`. */
  url: string;
  /** The account NEXUS binds with; its password is never returned. */
  bind_dn: string;
  user_base: string;
  user_filter: string;
  email_attribute: string;
  name_attribute: string;
  /** Empty: groups are not synced. */
  group_base: string;
  group_filter: string;
  member_attribute: string;
  starttls: boolean;
  created_at: string;
  last_sync_at: string | null;
  last_sync: SyncReport | null;
  /** Why the last sync failed; null when it worked. */
  last_error: string | null;
}

/** `POST /api/admin/directories`; the server fills in the optional fields' defaults. */
export interface NewDirectory {
  name: string;
  url: string;
  bind_dn: string;
  bind_password: string;
  user_base: string;
  user_filter?: string;
  email_attribute?: string;
  name_attribute?: string;
  group_base?: string;
  group_filter?: string;
  member_attribute?: string;
  starttls?: boolean;
}

/** `PATCH /api/admin/directories/{id}`: an omitted or empty `bind_password` keeps the current one. */
export type DirectoryChange = Partial<NewDirectory>;

/** A "Sign in with …" button of the login page (`GET /api/sso/providers`). */
export interface LoginProvider {
  id: string;
  name: string;
}

/** An outside OpenID Connect provider people of the organization can sign in through. */
export interface SsoProvider {
  id: string;
  name: string;
  /** The provider's URL, as its discovery document spells it. */
  issuer: string;
  client_id: string;
  /** Whether someone without an account here gets one at their first sign-in. */
  create_users: boolean;
  /** Whether the provider's addresses count as verified even when it does not say so. */
  trust_email: boolean;
  created_at: string;
  /** Where the provider sends people back, `<public URL>/api/sso/{id}/callback`: register it there. */
  redirect_uri: string;
}

/** `GET /api/admin/sso-providers`: the providers, and the id (with its redirect URI) the next
 *  one added gets, so that its redirect URI can be registered at the provider first. */
export interface SsoProviderList {
  providers: SsoProvider[];
  new_id: string;
  new_redirect_uri: string;
}

/** A provider's settings, as the add and edit forms send them; the secret is never returned. */
export interface SsoProviderSettings {
  name: string;
  issuer: string;
  client_id: string;
  client_secret: string;
  /** The server's default is false. */
  create_users?: boolean;
  /** The server's default is false. */
  trust_email?: boolean;
}

/** `POST /api/admin/sso-providers`: `id` is the list's `new_id`, whose redirect URI was shown. */
export interface SsoProviderInput extends SsoProviderSettings {
  id?: string;
}

/** `PATCH /api/admin/sso-providers/{id}` (never an `id`): an omitted or empty `client_secret`
 *  keeps the current one, but a new issuer or client id needs it again. */
export type SsoProviderChange = Partial<SsoProviderSettings>;

/** One of the organization's providers on the account page (`GET /api/account/sso-links`):
 *  whether the signed-in user's account is linked to it. */
export interface SsoLink {
  id: string;
  name: string;
  linked: boolean;
}

/** How urgent an instance alert is. */
export type AlertSeverity = 'critical' | 'warning' | 'info';

/** Something about the instance that needs an operator's attention, as `nexusctl` evaluated it. */
export interface InstanceAlert {
  /** Stable while the condition lasts: `service-down:web`, `disk`, `backup-failed`, … */
  id: string;
  severity: AlertSeverity;
  summary: string;
  /** What to do about it; may quote commands in backticks. */
  action?: string;
  /** When it began (Unix seconds). */
  since: number;
}

/** `GET /api/admin/instance/alerts`: the instance's alerts as last evaluated. */
export interface InstanceAlerts {
  /** When they were last evaluated (Unix seconds); null when they never were. */
  evaluated_at: number | null;
  alerts: InstanceAlert[];
  /** Nothing has evaluated them for more than 5 minutes (or ever): the list may be out of date. */
  stale: boolean;
}

/** Stable error codes the front-end reacts to; the server may send others. */
export type KnownErrorCode =
  | 'auth.required'
  | 'auth.invalid_credentials'
  | 'auth.throttled'
  | 'auth.weak_password'
  | 'auth.invalid_code'
  | 'auth.mfa_challenge_invalid'
  | 'auth.reset_link_invalid'
  | 'auth.forbidden'
  | 'auth.insufficient_scope'
  | 'mail.not_configured'
  | 'auth.no_passkey'
  | 'auth.passkey_rejected'
  | 'auth.passkey_ceremony_invalid'
  | 'passkeys.unavailable'
  | 'validation.failed'
  | 'conflict'
  | 'directory.unreachable'
  | 'sso.provider_unreachable'
  | 'not_found'
  | 'network.unreachable'
  | 'http.unexpected_response';

export type ErrorCode = KnownErrorCode | (string & {});

// ---- Errors ----------------------------------------------------------------

export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** HTTP status, or 0 when the server could not be reached. */
  readonly status: number;
  /** Stable machine-readable code, e.g. `auth.invalid_credentials`. */
  readonly code: ErrorCode;
  /** Anything else the server put in the error object (e.g. field details). */
  readonly details: Record<string, unknown>;

  constructor(status: number, code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** True when the caller has no valid session and must log in. */
  get isUnauthenticated(): boolean {
    return this.status === 401 && this.code === 'auth.required';
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

function fallbackMessage(status: number): string {
  if (status === 401) return 'You need to log in again.';
  if (status === 403) return 'You are not allowed to do that.';
  if (status === 404) return 'That was not found.';
  if (status === 429) return 'Too many attempts. Wait a moment and try again.';
  if (status >= 500) return 'The server ran into a problem. Try again in a moment.';
  return `The server answered with an unexpected status (${status}).`;
}

/**
 * Turns a failed HTTP response's status and body text into an ApiError.
 * Accepts the canonical `{"error":{"code","message"}}` envelope and degrades
 * gracefully for anything else (HTML error pages, empty bodies, bad JSON).
 */
export function parseApiError(status: number, bodyText: string): ApiError {
  let parsed: unknown;
  try {
    parsed = bodyText ? JSON.parse(bodyText) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed && typeof parsed === 'object' && 'error' in parsed) {
    const env = (parsed as { error: unknown }).error;
    if (env && typeof env === 'object') {
      const { code, message, ...rest } = env as Record<string, unknown>;
      const codeStr = typeof code === 'string' && code ? code : `http.${status}`;
      const msg = typeof message === 'string' && message ? message : fallbackMessage(status);
      return new ApiError(status, codeStr, msg, rest);
    }
  }
  const code = status === 401 ? 'auth.required' : `http.${status}`;
  return new ApiError(status, code, fallbackMessage(status));
}

// ---- Transport -------------------------------------------------------------

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions {
  signal?: AbortSignal;
}

/** Listeners told whenever any request comes back 401 (the session ended). */
type UnauthorizedListener = (err: ApiError) => void;
const unauthorizedListeners = new Set<UnauthorizedListener>();

export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** The ApiError for a failed response; tells the listeners when the session has ended. */
async function failure(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  const err = parseApiError(res.status, text);
  if (res.status === 401 && err.code === 'auth.required') {
    for (const listener of unauthorizedListeners) listener(err);
  }
  return err;
}

function unreachable(): ApiError {
  return new ApiError(0, 'network.unreachable', 'Could not reach the server. Check your connection and try again.');
}

export async function request<T>(
  method: Method,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const init: RequestInit = {
    method,
    headers,
    credentials: 'same-origin',
    signal: options.signal,
  };
  if (method !== 'GET') {
    // State-changing requests always declare JSON, with or without a body:
    // the server rejects them otherwise (CSRF defence).
    headers['Content-Type'] = 'application/json';
    if (body !== undefined) init.body = JSON.stringify(body);
  }

  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw unreachable();
  }

  if (!res.ok) throw await failure(res);

  if (res.status === 204 || res.status === 205) return undefined as T;
  const text = await res.text();
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(
      res.status,
      'http.unexpected_response',
      'The server sent a response the app could not read.',
    );
  }
}

/**
 * Uploads an image as the raw request body with the file's own type (the server checks
 * the bytes, not the claim). Same-origin, so the server's cross-site check lets it through.
 */
export async function upload(method: 'PUT' | 'POST', path: string, file: Blob): Promise<void> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: { Accept: 'application/json', 'Content-Type': file.type || 'application/octet-stream' },
      credentials: 'same-origin',
      body: file,
    });
  } catch {
    throw unreachable();
  }
  if (!res.ok) throw await failure(res);
}

const seg = encodeURIComponent;

/** `/api/admin/…`: each endpoint needs the permission named in its comment. */
const admin = {
  /** The permission catalogue and the built-in roles (users:read). */
  permissions(options?: RequestOptions): Promise<PermissionCatalog> {
    return request<PermissionCatalog>('GET', '/api/admin/permissions', undefined, options);
  },

  // Users (users:read to see, users:manage to change).
  users(options?: RequestOptions): Promise<{ users: AdminUser[] }> {
    return request<{ users: AdminUser[] }>('GET', '/api/admin/users', undefined, options);
  },
  addUser(user: NewUser): Promise<AddedUser> {
    return request<AddedUser>('POST', '/api/admin/users', user);
  },
  user(id: string, options?: RequestOptions): Promise<AdminUserDetail> {
    return request<AdminUserDetail>('GET', `/api/admin/users/${seg(id)}`, undefined, options);
  },
  updateUser(id: string, change: UserChange): Promise<AdminUserDetail> {
    return request<AdminUserDetail>('PATCH', `/api/admin/users/${seg(id)}`, change);
  },
  resetPassword(id: string): Promise<OneTimePassword> {
    return request<OneTimePassword>('POST', `/api/admin/users/${seg(id)}/reset-password`);
  },
  resetMfa(id: string): Promise<void> {
    return request<void>('POST', `/api/admin/users/${seg(id)}/reset-mfa`);
  },

  // Groups (users:read to see, users:manage to change).
  groups(options?: RequestOptions): Promise<{ groups: Group[] }> {
    return request<{ groups: Group[] }>('GET', '/api/admin/groups', undefined, options);
  },
  createGroup(name: string, description = ''): Promise<Group> {
    return request<Group>('POST', '/api/admin/groups', { name, description });
  },
  group(id: string, options?: RequestOptions): Promise<GroupDetail> {
    return request<GroupDetail>('GET', `/api/admin/groups/${seg(id)}`, undefined, options);
  },
  updateGroup(id: string, name: string, description: string): Promise<void> {
    return request<void>('PATCH', `/api/admin/groups/${seg(id)}`, { name, description });
  },
  deleteGroup(id: string): Promise<void> {
    return request<void>('DELETE', `/api/admin/groups/${seg(id)}`);
  },
  /** Adds (`member` true) or removes a user. */
  setGroupMember(groupId: string, userId: string, member: boolean): Promise<void> {
    return request<void>(member ? 'PUT' : 'DELETE', `/api/admin/groups/${seg(groupId)}/members/${seg(userId)}`);
  },

  // Custom roles (users:read to see, roles:manage to define, users:manage to grant).
  roles(options?: RequestOptions): Promise<{ roles: CustomRole[] }> {
    return request<{ roles: CustomRole[] }>('GET', '/api/admin/roles', undefined, options);
  },
  createRole(role: RoleInput): Promise<CustomRole> {
    return request<CustomRole>('POST', '/api/admin/roles', role);
  },
  role(id: string, options?: RequestOptions): Promise<RoleDetail> {
    return request<RoleDetail>('GET', `/api/admin/roles/${seg(id)}`, undefined, options);
  },
  updateRole(id: string, role: RoleInput): Promise<CustomRole> {
    return request<CustomRole>('PATCH', `/api/admin/roles/${seg(id)}`, role);
  },
  deleteRole(id: string): Promise<void> {
    return request<void>('DELETE', `/api/admin/roles/${seg(id)}`);
  },
  /** Grants (`granted` true) the role to a user, or takes it back. */
  setRoleUser(roleId: string, userId: string, granted: boolean): Promise<void> {
    return request<void>(granted ? 'PUT' : 'DELETE', `/api/admin/roles/${seg(roleId)}/users/${seg(userId)}`);
  },
  /** Grants (`granted` true) the role to a group's members, or takes it back. */
  setRoleGroup(roleId: string, groupId: string, granted: boolean): Promise<void> {
    return request<void>(granted ? 'PUT' : 'DELETE', `/api/admin/roles/${seg(roleId)}/groups/${seg(groupId)}`);
  },

  // The organization (org:manage).
  org(options?: RequestOptions): Promise<OrgSettings> {
    return request<OrgSettings>('GET', '/api/admin/org', undefined, options);
  },
  /** `brandColor`: `#rrggbb`, or empty for the default. */
  updateOrg(name: string, brandColor: string): Promise<OrgSettings> {
    return request<OrgSettings>('PATCH', '/api/admin/org', { name, brand_color: brandColor });
  },
  /** PNG, JPEG or WebP, at most 256 KiB. */
  uploadLogo(file: Blob): Promise<void> {
    return upload('PUT', '/api/admin/org/logo', file);
  },
  removeLogo(): Promise<void> {
    return request<void>('DELETE', '/api/admin/org/logo');
  },

  /** The instance's health alerts as `nexusctl` last evaluated them (system:read, held only in
   *  the instance's first organization). */
  instanceAlerts(options?: RequestOptions): Promise<InstanceAlerts> {
    return request<InstanceAlerts>('GET', '/api/admin/instance/alerts', undefined, options);
  },

  /** Audit records after `after` (a `seq`), oldest first (audit:read). */
  audit(after = 0, limit = 50, options?: RequestOptions): Promise<AuditPage> {
    const query = new URLSearchParams({ after: String(after), limit: String(limit) });
    return request<AuditPage>('GET', `/api/admin/audit?${query}`, undefined, options);
  },

  // OAuth clients (clients:manage).
  clients(options?: RequestOptions): Promise<{ clients: OAuthClient[] }> {
    return request<{ clients: OAuthClient[] }>('GET', '/api/admin/clients', undefined, options);
  },
  createClient(client: NewClient): Promise<RegisteredClient> {
    return request<RegisteredClient>('POST', '/api/admin/clients', client);
  },
  /** Disables the client; its tokens stop working. */
  disableClient(id: string): Promise<void> {
    return request<void>('DELETE', `/api/admin/clients/${seg(id)}`);
  },

  // Outside directories (org:manage). Saving binds first: `directory.unreachable` when that fails.
  directories(options?: RequestOptions): Promise<{ directories: Directory[] }> {
    return request<{ directories: Directory[] }>('GET', '/api/admin/directories', undefined, options);
  },
  directory(id: string, options?: RequestOptions): Promise<Directory> {
    return request<Directory>('GET', `/api/admin/directories/${seg(id)}`, undefined, options);
  },
  createDirectory(directory: NewDirectory): Promise<Directory> {
    return request<Directory>('POST', '/api/admin/directories', directory);
  },
  updateDirectory(id: string, change: DirectoryChange): Promise<Directory> {
    return request<Directory>('PATCH', `/api/admin/directories/${seg(id)}`, change);
  },
  /** Its users are disabled and its groups deleted. */
  deleteDirectory(id: string): Promise<void> {
    return request<void>('DELETE', `/api/admin/directories/${seg(id)}`);
  },
  /** Syncs now (the server also does every 15 minutes). */
  syncDirectory(id: string): Promise<SyncReport> {
    return request<SyncReport>('POST', `/api/admin/directories/${seg(id)}/sync`);
  },

  // Sign-in providers (org:manage to see; owners only to change). Saving a new issuer fetches
  // its discovery document first: `sso.provider_unreachable` when that fails.
  ssoProviders(options?: RequestOptions): Promise<SsoProviderList> {
    return request<SsoProviderList>('GET', '/api/admin/sso-providers', undefined, options);
  },
  ssoProvider(id: string, options?: RequestOptions): Promise<SsoProvider> {
    return request<SsoProvider>('GET', `/api/admin/sso-providers/${seg(id)}`, undefined, options);
  },
  createSsoProvider(input: SsoProviderInput): Promise<SsoProvider> {
    return request<SsoProvider>('POST', '/api/admin/sso-providers', input);
  },
  updateSsoProvider(id: string, change: SsoProviderChange): Promise<SsoProvider> {
    return request<SsoProvider>('PATCH', `/api/admin/sso-providers/${seg(id)}`, change);
  },
  /** The accounts it created stay; people linked to it sign in another way. */
  deleteSsoProvider(id: string): Promise<void> {
    return request<void>('DELETE', `/api/admin/sso-providers/${seg(id)}`);
  },
};

// ---- Endpoints -------------------------------------------------------------

/** One of the signed-in user's sessions (`GET /api/account/sessions`), newest first. */
export interface AccountSession {
  /** 16 hex characters; not the cookie. */
  id: string;
  /** RFC 3339. */
  created_at: string;
  expires_at: string;
  /** The address the session was opened from. */
  client: string;
  /** The session this browser is using. */
  current: boolean;
}

/** A personal access token (`GET /api/tokens`), revoked and expired ones included. */
export interface ApiToken {
  id: string;
  name: string;
  scopes: string[];
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

export interface NewApiToken {
  name: string;
  scopes: string[];
  /** 1 to 366; the server's default is 90. */
  expires_in_days: number;
}

/** `POST /api/tokens`: the token's record and the token itself (in this answer only). */
export interface CreatedApiToken extends ApiToken {
  token: string;
}

export interface PasskeyInfo {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

/** The first half of a passkey ceremony: options for the browser and the id to send back. */
export interface PasskeyCeremony {
  ceremony: string;
  options: { publicKey: Record<string, unknown> };
}

export const api = {
  /** The app catalogue; public, no login needed. */
  apps(options?: RequestOptions): Promise<AppsResponse> {
    return request<AppsResponse>('GET', '/api/apps', undefined, options);
  },
  /** The current session; rejects with `auth.required` (401) when logged out. */
  session(options?: RequestOptions): Promise<Session> {
    return request<Session>('GET', '/api/session', undefined, options);
  },
  /** The password step: a session, or a challenge when the account has a second factor. */
  login(email: string, password: string): Promise<Session | MfaChallenge> {
    return request<Session | MfaChallenge>('POST', '/api/session', { email, password });
  },
  /** The second step: an authenticator code or a recovery code. */
  loginSecondFactor(challenge: string, code: string): Promise<Session> {
    return request<Session>('POST', '/api/session/mfa', { challenge, code });
  },
  /** The "Sign in with …" buttons: `org` is the organization's slug (without it, the server
   *  lists them only when the instance has one organization). */
  ssoProviders(org?: string | null, options?: RequestOptions): Promise<{ providers: LoginProvider[] }> {
    const query = org ? `?${new URLSearchParams({ org })}` : '';
    return request<{ providers: LoginProvider[] }>('GET', `/api/sso/providers${query}`, undefined, options);
  },
  /** Where the browser goes (a full page load) to sign in through provider `id`, then to `next`. */
  ssoStartUrl(id: string, next = '/'): string {
    const query = next && next !== '/' ? `?${new URLSearchParams({ next })}` : '';
    return `/api/sso/${encodeURIComponent(id)}/start${query}`;
  },
  /** Sends a reset link if the address has an account (202 either way). */
  requestPasswordReset(email: string): Promise<void> {
    return request<void>('POST', '/api/password-reset', { email });
  },
  completePasswordReset(token: string, newPassword: string): Promise<void> {
    return request<void>('POST', '/api/password-reset/complete', { token, new_password: newPassword });
  },
  /** First login with the link `nexusctl init` printed: a session, as `login` answers. */
  setup(token: string, newPassword: string): Promise<Session | MfaChallenge> {
    return request<Session | MfaChallenge>('POST', '/api/setup', { token, new_password: newPassword });
  },
  mfaStatus(options?: RequestOptions): Promise<MfaStatus> {
    return request<MfaStatus>('GET', '/api/account/mfa', undefined, options);
  },
  beginTotp(): Promise<TotpEnrolment> {
    return request<TotpEnrolment>('POST', '/api/account/mfa/totp', {});
  },
  confirmTotp(code: string): Promise<RecoveryCodes> {
    return request<RecoveryCodes>('POST', '/api/account/mfa/totp/confirm', { code });
  },
  removeTotp(password: string): Promise<void> {
    return request<void>('POST', '/api/account/mfa/totp/remove', { password });
  },
  newRecoveryCodes(password: string): Promise<RecoveryCodes> {
    return request<RecoveryCodes>('POST', '/api/account/mfa/recovery-codes', { password });
  },
  passkeys(options?: RequestOptions): Promise<{ passkeys: PasskeyInfo[] }> {
    return request<{ passkeys: PasskeyInfo[] }>('GET', '/api/account/passkeys', undefined, options);
  },
  beginPasskeyRegistration(name: string): Promise<PasskeyCeremony> {
    return request<PasskeyCeremony>('POST', '/api/account/passkeys', { name });
  },
  finishPasskeyRegistration(ceremony: string, credential: unknown): Promise<PasskeyInfo> {
    return request<PasskeyInfo>('POST', '/api/account/passkeys/finish', { ceremony, credential });
  },
  removePasskey(id: string): Promise<void> {
    return request<void>('DELETE', `/api/account/passkeys/${encodeURIComponent(id)}`);
  },
  beginPasskeyLogin(email: string): Promise<PasskeyCeremony> {
    return request<PasskeyCeremony>('POST', '/api/session/passkey', { email });
  },
  finishPasskeyLogin(ceremony: string, credential: unknown): Promise<Session> {
    return request<Session>('POST', '/api/session/passkey/finish', { ceremony, credential });
  },
  logout(): Promise<void> {
    return request<void>('DELETE', '/api/session');
  },
  /** The organization's sign-in providers, and which of them the account is linked to. */
  ssoLinks(options?: RequestOptions): Promise<{ links: SsoLink[] }> {
    return request<{ links: SsoLink[] }>('GET', '/api/account/sso-links', undefined, options);
  },
  /** Starts linking the account to provider `id`: where to send the browser (a full page load);
   *  the provider sends it back to `/account?sso=linked` or `/account?sso_error=CODE`. */
  linkSso(id: string): Promise<{ redirect: string }> {
    return request<{ redirect: string }>('POST', `/api/account/sso-links/${encodeURIComponent(id)}`);
  },
  /** 403 `auth.forbidden` when the account has no other way to sign in. */
  unlinkSso(id: string): Promise<void> {
    return request<void>('DELETE', `/api/account/sso-links/${encodeURIComponent(id)}`);
  },
  /** Ends every session of the user, this one included. */
  logoutEverywhere(): Promise<void> {
    return request<void>('POST', '/api/session/logout-everywhere');
  },
  sessions(options?: RequestOptions): Promise<{ sessions: AccountSession[] }> {
    return request<{ sessions: AccountSession[] }>('GET', '/api/account/sessions', undefined, options);
  },
  /** Signs another session out (404 `not_found` when it has already ended). */
  endSession(id: string): Promise<void> {
    return request<void>('DELETE', `/api/account/sessions/${encodeURIComponent(id)}`);
  },
  tokens(options?: RequestOptions): Promise<{ tokens: ApiToken[] }> {
    return request<{ tokens: ApiToken[] }>('GET', '/api/tokens', undefined, options);
  },
  createToken(token: NewApiToken): Promise<CreatedApiToken> {
    return request<CreatedApiToken>('POST', '/api/tokens', token);
  },
  revokeToken(id: string): Promise<void> {
    return request<void>('DELETE', `/api/tokens/${encodeURIComponent(id)}`);
  },
  changePassword(currentPassword: string, newPassword: string): Promise<void> {
    return request<void>('POST', '/api/session/password', {
      current_password: currentPassword,
      new_password: newPassword,
    });
  },
  /** Where the organization's logo is served (any signed-in member; 404 without one). */
  orgLogoUrl: '/api/org/logo',
  /** The admin console's endpoints. */
  admin,
};
