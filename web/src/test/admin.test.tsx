import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AdminUser, PermissionCatalog } from '../api';
import { catalog, mockFetch, renderApp, session, sessionAs } from './helpers';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  document.documentElement.removeAttribute('style');
});

const base = {
  'GET /api/apps': { status: 200, body: catalog },
};

const permissionCatalog: PermissionCatalog = {
  permissions: [
    { name: 'users:read', description: "see the organization's users, groups and roles" },
    { name: 'users:manage', description: 'add, disable and reset users, manage groups, grant roles' },
    { name: 'roles:manage', description: 'define custom roles' },
    { name: 'org:manage', description: 'rename the organization and change its branding' },
    { name: 'audit:read', description: "read the organization's audit log" },
    { name: 'clients:manage', description: 'register and disable OAuth clients' },
  ],
  builtin_roles: [
    { name: 'owner', permissions: ['users:read', 'users:manage', 'roles:manage', 'org:manage', 'audit:read', 'clients:manage'] },
    { name: 'admin', permissions: ['users:read', 'users:manage', 'roles:manage', 'org:manage', 'audit:read', 'clients:manage'] },
    { name: 'member', permissions: ['users:read'] },
    { name: 'guest', permissions: [] },
  ],
};

function adminUser(overrides: Partial<AdminUser> = {}): AdminUser {
  return {
    id: 'u-1',
    email: 'ada@example.test',
    display_name: 'Ada Lovelace',
    role: 'admin',
    disabled: false,
    must_change_password: false,
    created_at: '2026-01-05T10:00:00Z',
    ...overrides,
  };
}

const grace = adminUser({ id: 'u-2', email: 'grace@example.test', display_name: 'Grace Hopper', role: 'owner' });

async function openUserMenu() {
  fireEvent.click(await screen.findByTestId('user-menu'));
}

describe('the Administration entry', () => {
  it('is in the user menu for an administrator and leads to the console', async () => {
    mockFetch({
      ...base,
      'GET /api/session': { status: 200, body: session() },
      'GET /api/admin/users': { status: 200, body: { users: [adminUser(), grace] } },
    });
    renderApp('/');
    await openUserMenu();
    fireEvent.click(screen.getByTestId('admin-link'));
    // /admin opens the first section: users.
    await waitFor(() => expect(window.location.pathname).toBe('/admin/users'));
    const table = await screen.findByTestId('user-table');
    expect(table.textContent).toContain('Grace Hopper');
    expect(table.textContent).toContain('Owner');
    await waitFor(() => expect(document.title).toBe('Users · Administration · NEXUS'));
  });

  it('is shown to a member who may read the directory', async () => {
    mockFetch({ ...base, 'GET /api/session': { status: 200, body: sessionAs('member', ['users:read']) } });
    renderApp('/');
    await openUserMenu();
    expect(screen.getByTestId('admin-link')).toBeTruthy();
  });

  it('is not shown to a guest, and /admin explains why', async () => {
    mockFetch({ ...base, 'GET /api/session': { status: 200, body: sessionAs('guest', []) } });
    renderApp('/');
    await openUserMenu();
    expect(screen.getByRole('menuitem', { name: /account/i })).toBeTruthy();
    expect(screen.queryByTestId('admin-link')).toBeNull();

    cleanup();
    renderApp('/admin');
    expect((await screen.findByTestId('admin-denied')).textContent).toMatch(/ask an owner or administrator/i);
  });
});

describe('sections by permission', () => {
  it('shows a member only the directory, read-only', async () => {
    mockFetch({
      ...base,
      'GET /api/session': { status: 200, body: sessionAs('member', ['users:read']) },
      'GET /api/admin/users': { status: 200, body: { users: [adminUser(), grace] } },
    });
    renderApp('/admin');
    await waitFor(() => expect(window.location.pathname).toBe('/admin/users'));
    const nav = await screen.findByTestId('admin-nav');
    const labels = within(nav)
      .getAllByRole('link')
      .map((a) => a.textContent);
    expect(labels).toEqual(['Users', 'Groups', 'Roles']);
    expect(within(nav).getByRole('link', { name: 'Users' }).getAttribute('aria-current')).toBe('page');
    await screen.findByTestId('user-table');
    expect(screen.queryByRole('button', { name: 'Add user' })).toBeNull();
  });

  it('refuses a section the user may not open', async () => {
    mockFetch({ ...base, 'GET /api/session': { status: 200, body: sessionAs('member', ['users:read']) } });
    renderApp('/admin/audit');
    const section = await screen.findByTestId('admin-section-audit');
    expect(section.textContent).toContain('You cannot open Audit log');
    expect(section.textContent).toContain('audit:read');
  });

  it('opens the first allowed section for an auditor', async () => {
    mockFetch({
      ...base,
      'GET /api/session': { status: 200, body: sessionAs('member', ['audit:read']) },
      'GET /api/admin/audit?after=0&limit=50': { status: 200, body: { records: [], next_after: 0 } },
    });
    renderApp('/admin');
    await waitFor(() => expect(window.location.pathname).toBe('/admin/audit'));
    expect(await screen.findByText('Nothing recorded yet')).toBeTruthy();
    const nav = screen.getByTestId('admin-nav');
    expect(within(nav).getAllByRole('link').map((a) => a.textContent)).toEqual(['Audit log']);
  });

  it('hides "New role" without roles:manage but still lists the built-in roles', async () => {
    mockFetch({
      ...base,
      'GET /api/session': { status: 200, body: sessionAs('member', ['users:read', 'users:manage']) },
      'GET /api/admin/permissions': { status: 200, body: permissionCatalog },
      'GET /api/admin/roles': { status: 200, body: { roles: [] } },
    });
    renderApp('/admin/roles');
    const builtin = await screen.findByTestId('builtin-roles');
    expect(builtin.textContent).toContain('Guest');
    expect(builtin.textContent).toContain('None: can use the apps, manage nothing');
    expect(screen.queryByRole('button', { name: 'New role' })).toBeNull();
  });
});

describe('users', () => {
  it('adds a user and shows the one-time password once', async () => {
    const { calls } = mockFetch({
      ...base,
      'GET /api/session': { status: 200, body: session() },
      'GET /api/admin/users': { status: 200, body: { users: [adminUser()] } },
      'POST /api/admin/users': {
        status: 201,
        body: {
          ...adminUser({ id: 'u-3', email: 'alan@example.test', display_name: 'Alan Turing', role: 'member', must_change_password: true }),
          one_time_password: 'abcde-fghij-klmno-pqrst',
        },
      },
    });
    renderApp('/admin/users');
    fireEvent.click(await screen.findByRole('button', { name: 'Add user' }));
    const form = await screen.findByTestId('add-user-form');

    // The e-mail is checked before anything is sent.
    fireEvent.click(within(form).getByRole('button', { name: 'Add user' }));
    expect(await within(form).findByText('Enter the e-mail address the person will log in with.')).toBeTruthy();
    expect(calls.some((c) => c.method === 'POST')).toBe(false);

    fireEvent.change(within(form).getByLabelText('E-mail'), { target: { value: 'alan@example.test' } });
    fireEvent.change(within(form).getByLabelText('Name'), { target: { value: 'Alan Turing' } });
    const role = within(form).getByLabelText('Role') as HTMLSelectElement;
    // An administrator cannot hand out "owner".
    expect(Array.from(role.options).map((o) => o.value)).toEqual(['member', 'guest', 'admin']);
    fireEvent.click(within(form).getByRole('button', { name: 'Add user' }));

    const secret = await screen.findByTestId('new-user-password');
    expect(secret.textContent).toContain('abcde-fghij-klmno-pqrst');
    expect(secret.textContent).toMatch(/must then choose their own/);
    expect(secret.textContent).toMatch(/shown only this once/);
    const post = calls.find((c) => c.method === 'POST' && c.path === '/api/admin/users');
    expect(post?.body).toEqual({ email: 'alan@example.test', display_name: 'Alan Turing', role: 'member' });
    const table = screen.getByTestId('user-table');
    expect(table.textContent).toContain('Alan Turing');
    expect(table.textContent).toContain('Awaiting first login');
    expect(table.textContent).not.toContain('abcde-fghij-klmno-pqrst');

    fireEvent.click(within(secret).getByRole('button', { name: 'I have copied it' }));
    expect(screen.queryByTestId('new-user-password')).toBeNull();
    expect(document.body.textContent).not.toContain('abcde-fghij-klmno-pqrst');
  });

  it("shows the server's message when it refuses a change (403)", async () => {
    const { calls } = mockFetch({
      ...base,
      'GET /api/session': { status: 200, body: session() },
      'GET /api/admin/users/u-2': {
        status: 200,
        body: { ...grace, groups: ['g-1'], roles: [], permissions: permissionCatalog.builtin_roles[0]?.permissions },
      },
      'GET /api/admin/groups': {
        status: 200,
        body: { groups: [{ id: 'g-1', name: 'Founders', description: '', member_count: 1, created_at: '2026-01-05T10:00:00Z' }] },
      },
      'PATCH /api/admin/users/u-2': {
        status: 403,
        body: { error: { code: 'auth.forbidden', message: "only an owner can make someone an owner or change an owner's role" } },
      },
    });
    renderApp('/admin/users?id=u-2');
    const detail = await screen.findByTestId('user-detail');
    expect(within(detail).getByTestId('user-access').textContent).toContain('Founders');
    expect(within(detail).getByTestId('user-access').textContent).toContain('audit:read');

    fireEvent.change(within(detail).getByLabelText('Role'), { target: { value: 'member' } });
    fireEvent.click(within(detail).getByRole('button', { name: 'Change role' }));
    const error = await screen.findByTestId('admin-action-error');
    expect(error.textContent).toContain("only an owner can make someone an owner or change an owner's role");
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ role: 'member' });
    // The select goes back to what the user really has.
    expect((within(detail).getByLabelText('Role') as HTMLSelectElement).value).toBe('owner');
  });

  it('asks before resetting two-step verification, and resets a password once', async () => {
    const alan = adminUser({ id: 'u-3', email: 'alan@example.test', display_name: 'Alan Turing', role: 'member' });
    const { calls } = mockFetch({
      ...base,
      'GET /api/session': { status: 200, body: session() },
      'GET /api/admin/users/u-3': { status: 200, body: { ...alan, groups: [], roles: [], permissions: ['users:read'] } },
      'GET /api/admin/groups': { status: 200, body: { groups: [] } },
      'POST /api/admin/users/u-3/reset-mfa': { status: 204 },
      'POST /api/admin/users/u-3/reset-password': { status: 200, body: { one_time_password: 'zyxwv-utsrq-ponml-kjihg' } },
    });
    renderApp('/admin/users?id=u-3');
    fireEvent.click(await screen.findByTestId('reset-mfa'));
    expect(calls.some((c) => c.path.endsWith('/reset-mfa'))).toBe(false);
    fireEvent.click(screen.getByTestId('reset-mfa-confirm'));
    expect((await screen.findByTestId('admin-notice')).textContent).toMatch(/Two-step verification is off for Alan Turing/);
    expect(calls.filter((c) => c.path.endsWith('/reset-mfa'))).toHaveLength(1);

    fireEvent.click(screen.getByTestId('reset-password'));
    fireEvent.click(screen.getByTestId('reset-password-confirm'));
    const result = await screen.findByTestId('reset-password-result');
    expect(result.textContent).toContain('zyxwv-utsrq-ponml-kjihg');
    fireEvent.click(within(result).getByRole('button', { name: 'I have copied it' }));
    expect(document.body.textContent).not.toContain('zyxwv-utsrq-ponml-kjihg');
  });
});

describe('roles and groups', () => {
  it('creates a role with the ticked permissions', async () => {
    const { calls } = mockFetch({
      ...base,
      'GET /api/session': { status: 200, body: session() },
      'GET /api/admin/permissions': { status: 200, body: permissionCatalog },
      'GET /api/admin/roles': { status: 200, body: { roles: [] } },
      'POST /api/admin/roles': (call) => ({
        status: 201,
        body: { id: 'r-1', created_at: '2026-01-05T10:00:00Z', ...(call.body as object) },
      }),
    });
    renderApp('/admin/roles');
    fireEvent.click(await screen.findByRole('button', { name: 'New role' }));
    const form = await screen.findByTestId('role-form');
    fireEvent.change(within(form).getByLabelText('Name'), { target: { value: 'Auditors' } });
    fireEvent.change(within(form).getByLabelText('Description'), { target: { value: 'Compliance team' } });
    // Descriptions come from the server's catalogue.
    expect(form.textContent).toContain("read the organization's audit log");
    fireEvent.click(within(form).getByLabelText('audit:read'));
    fireEvent.click(within(form).getByLabelText('users:read'));
    fireEvent.click(within(form).getByRole('button', { name: 'Create role' }));

    expect((await screen.findByTestId('role-created')).textContent).toContain('Auditors');
    const post = calls.find((c) => c.method === 'POST' && c.path === '/api/admin/roles');
    // In the catalogue's order, not the order they were ticked.
    expect(post?.body).toEqual({ name: 'Auditors', description: 'Compliance team', permissions: ['users:read', 'audit:read'] });
    expect(screen.getByTestId('role-table').textContent).toContain('audit:read');
  });

  it('adds a member to a group', async () => {
    let members: AdminUser[] = [];
    const alan = adminUser({ id: 'u-3', email: 'alan@example.test', display_name: 'Alan Turing', role: 'member' });
    const { calls } = mockFetch({
      ...base,
      'GET /api/session': { status: 200, body: session() },
      'GET /api/admin/groups/g-1': () => ({
        status: 200,
        body: { id: 'g-1', name: 'Sales', description: '', member_count: members.length, created_at: '2026-01-05T10:00:00Z', members },
      }),
      'GET /api/admin/users': { status: 200, body: { users: [adminUser(), alan] } },
      'GET /api/admin/roles': { status: 200, body: { roles: [] } },
      'PUT /api/admin/groups/g-1/members/u-3': () => {
        members = [alan];
        return { status: 204 };
      },
    });
    renderApp('/admin/groups?id=g-1');
    const detail = await screen.findByTestId('group-detail');
    fireEvent.change(within(detail).getByLabelText('Add a member'), { target: { value: 'u-3' } });
    fireEvent.click(within(detail).getByRole('button', { name: 'Add' }));
    expect((await screen.findByTestId('group-members')).textContent).toContain('Alan Turing');
    expect(calls.some((c) => c.method === 'PUT' && c.path === '/api/admin/groups/g-1/members/u-3')).toBe(true);
  });
});

describe('organization, audit and apps', () => {
  it('saves the brand colour, applies it, and uploads a logo as an image', async () => {
    let current = session();
    const { calls } = mockFetch({
      ...base,
      'GET /api/session': () => ({ status: 200, body: current }),
      'GET /api/admin/org': {
        status: 200,
        body: { id: 'o-1', slug: 'acme', name: 'Acme Ltd', brand_color: '', has_logo: false, created_at: '2026-01-05T10:00:00Z' },
      },
      'PATCH /api/admin/org': (call) => {
        const { name, brand_color } = call.body as { name: string; brand_color: string };
        if (brand_color && !/^#[0-9a-f]{6}$/.test(brand_color)) {
          return { status: 400, body: { error: { code: 'validation.failed', message: 'not a colour' } } };
        }
        current = sessionAs('admin', session().user.permissions, { name, brand_color });
        return {
          status: 200,
          body: { id: 'o-1', slug: 'acme', name, brand_color, has_logo: false, created_at: '2026-01-05T10:00:00Z' },
        };
      },
      'PUT /api/admin/org/logo': () => {
        current = sessionAs('admin', session().user.permissions, { ...current.user.org, has_logo: true });
        return { status: 204 };
      },
    });
    renderApp('/admin/organization');
    const colour = await screen.findByLabelText('Brand colour');
    fireEvent.change(colour, { target: { value: 'red' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText(/six hex digits, such as #1a73e8/)).toBeTruthy();
    expect(calls.some((c) => c.method === 'PATCH')).toBe(false);

    fireEvent.change(colour, { target: { value: '#AA3300' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByTestId('org-saved')).toBeTruthy();
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ name: 'Acme Ltd', brand_color: '#aa3300' });
    await waitFor(() =>
      expect(document.documentElement.style.getPropertyValue('--nx-color-primary')).toBe('#aa3300'),
    );

    const png = new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], 'logo.png', { type: 'image/png' });
    fireEvent.change(screen.getByTestId('logo-file'), { target: { files: [png] } });
    fireEvent.click(screen.getByRole('button', { name: 'Upload logo' }));
    expect(await screen.findByTestId('logo-done')).toBeTruthy();
    const put = calls.find((c) => c.method === 'PUT');
    expect((put?.init.headers as Record<string, string>)['Content-Type']).toBe('image/png');
    expect(put?.init.body).toBe(png);
    expect(put?.init.credentials).toBe('same-origin');
    // The top bar shows the new logo, fetched afresh.
    const logo = await screen.findByTestId('org-logo');
    expect(logo.getAttribute('src')).toMatch(/^\/api\/org\/logo\?v=\d+$/);
  });

  it('refuses an SVG logo before uploading it', async () => {
    const { calls } = mockFetch({
      ...base,
      'GET /api/session': { status: 200, body: session() },
      'GET /api/admin/org': {
        status: 200,
        body: { id: 'o-1', slug: 'acme', name: 'Acme Ltd', brand_color: '', has_logo: false, created_at: '2026-01-05T10:00:00Z' },
      },
    });
    renderApp('/admin/organization');
    const svg = new File(['<svg/>'], 'logo.svg', { type: 'image/svg+xml' });
    fireEvent.change(await screen.findByTestId('logo-file'), { target: { files: [svg] } });
    expect((await screen.findByTestId('logo-error')).textContent).toMatch(/PNG, JPEG or WebP/);
    expect((screen.getByRole('button', { name: 'Upload logo' }) as HTMLButtonElement).disabled).toBe(true);
    expect(calls.some((c) => c.method === 'PUT')).toBe(false);
  });

  it('pages through the audit log with "Load more"', async () => {
    const record = (seq: number, action: string) => ({
      seq,
      at: '2026-01-05T10:00:00.000000Z',
      org_id: 'o-1',
      actor: `ada@example.test (u-1)`,
      source: '203.0.113.7',
      action,
      target: `user:u-${seq}`,
      detail: '{}',
      prev_hash: 'p',
      hash: 'h',
    });
    const { calls } = mockFetch({
      ...base,
      'GET /api/session': { status: 200, body: session() },
      'GET /api/admin/audit?after=0&limit=50': {
        status: 200,
        body: { records: [record(1, 'user.created'), record(2, 'session.login')], next_after: 2 },
      },
      'GET /api/admin/audit?after=2&limit=50': { status: 200, body: { records: [record(3, 'user.disabled')], next_after: 3 } },
      'GET /api/admin/audit?after=3&limit=50': { status: 200, body: { records: [], next_after: 3 } },
    });
    renderApp('/admin/audit');
    await screen.findByTestId('audit-table');
    expect(screen.getAllByTestId('audit-record')).toHaveLength(2);
    expect(screen.getByTestId('audit-table').textContent).toContain('from 203.0.113.7');

    fireEvent.click(screen.getByRole('button', { name: 'Load more' }));
    await waitFor(() => expect(screen.getAllByTestId('audit-record')).toHaveLength(3));
    expect(screen.getAllByTestId('audit-record')[2]?.textContent).toContain('user.disabled');

    fireEvent.click(screen.getByRole('button', { name: 'Load more' }));
    expect(await screen.findByTestId('audit-end')).toBeTruthy();
    expect(screen.getAllByTestId('audit-record')).toHaveLength(3);
    expect(calls.filter((c) => c.path.startsWith('/api/admin/audit')).map((c) => c.path)).toEqual([
      '/api/admin/audit?after=0&limit=50',
      '/api/admin/audit?after=2&limit=50',
      '/api/admin/audit?after=3&limit=50',
    ]);
  });

  it('registers an app and shows its secret once', async () => {
    const { calls } = mockFetch({
      ...base,
      'GET /api/session': { status: 200, body: session() },
      'GET /api/admin/clients': { status: 200, body: { clients: [] } },
      'POST /api/admin/clients': (call) => ({
        status: 201,
        body: {
          client_id: 'nxc_123',
          created_at: '2026-01-05T10:00:00Z',
          disabled: false,
          client_secret: 'secret-shown-once',
          ...(call.body as object),
        },
      }),
    });
    renderApp('/admin/apps');
    fireEvent.click(await screen.findByRole('button', { name: 'Register an app' }));
    const form = await screen.findByTestId('client-form');
    fireEvent.change(within(form).getByLabelText('Name'), { target: { value: 'Wiki' } });
    fireEvent.click(within(form).getByLabelText('email'));
    fireEvent.click(within(form).getByLabelText('openid'));
    fireEvent.change(within(form).getByLabelText('Redirect URIs'), {
      target: { value: 'https://wiki.example.com/cb\n\n  https://wiki.example.com/cb2  \n' },
    });
    fireEvent.click(within(form).getByRole('button', { name: 'Register app' }));

    const secret = await screen.findByTestId('client-secret');
    expect(secret.textContent).toContain('nxc_123');
    expect(secret.textContent).toContain('secret-shown-once');
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      name: 'Wiki',
      scopes: ['openid', 'email'],
      redirect_uris: ['https://wiki.example.com/cb', 'https://wiki.example.com/cb2'],
    });
    expect(screen.getByTestId('client-table').textContent).toContain('Wiki');
    fireEvent.click(within(secret).getByRole('button', { name: 'I have copied it' }));
    expect(document.body.textContent).not.toContain('secret-shown-once');
  });
});

describe('branding', () => {
  it('applies the colour and shows the logo while signed in, and drops them on logout', async () => {
    mockFetch({
      ...base,
      'GET /api/session': {
        status: 200,
        body: sessionAs('member', [], { brand_color: '#0b7285', has_logo: true }),
      },
      'DELETE /api/session': { status: 204 },
    });
    renderApp('/');
    const logo = await screen.findByTestId('org-logo');
    expect(logo.getAttribute('src')).toBe('/api/org/logo');
    expect(logo.getAttribute('alt')).toBe('Acme Ltd');
    const style = document.documentElement.style;
    // Set by a passive effect, which may run just after the logo is on screen.
    await waitFor(() => expect(style.getPropertyValue('--nx-color-primary')).toBe('#0b7285'));
    expect(style.getPropertyValue('--nx-color-on-primary')).toBe('#ffffff');
    expect(style.getPropertyValue('--nx-color-primary-soft')).toContain('#0b7285');

    await openUserMenu();
    fireEvent.click(screen.getByRole('menuitem', { name: /log out/i }));
    await waitFor(() => expect(window.location.pathname).toBe('/login'));
    expect(style.getPropertyValue('--nx-color-primary')).toBe('');
  });

  it('keeps the product mark and default colours without branding', async () => {
    mockFetch({ ...base, 'GET /api/session': { status: 200, body: session() } });
    renderApp('/');
    await screen.findByTestId('launcher');
    expect(screen.queryByTestId('org-logo')).toBeNull();
    expect(document.documentElement.style.getPropertyValue('--nx-color-primary')).toBe('');
  });

  it('picks dark text on a light brand colour', async () => {
    mockFetch({
      ...base,
      'GET /api/session': { status: 200, body: sessionAs('member', [], { brand_color: '#ffd43b' }) },
    });
    renderApp('/');
    await screen.findByTestId('launcher');
    // The tokens are set by an effect, which may run after the launcher is first on screen.
    await waitFor(() =>
      expect(document.documentElement.style.getPropertyValue('--nx-color-on-primary')).toBe('#111418'),
    );
  });
});
