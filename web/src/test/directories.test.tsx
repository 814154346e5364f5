import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AdminUser, Directory, Group, SyncReport } from '../api';
import { ALL_PERMISSIONS, catalog, mockFetch, renderApp, session, sessionAs } from './helpers';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

/** Only owners may connect, change and remove directories; the default test session is an admin. */
const owner = sessionAs('owner', ALL_PERMISSIONS);

const base = {
  'GET /api/apps': { status: 200, body: catalog },
  'GET /api/session': { status: 200, body: session() },
};

const asOwner = { ...base, 'GET /api/session': { status: 200, body: owner } };

function directory(overrides: Partial<Directory> = {}): Directory {
  return {
    id: 'd-1',
    name: 'Head office',
    url: 'ldaps://dc1.example.test:636',
    bind_dn: 'cn=nexus,ou=services,dc=example,dc=test',
    user_base: 'ou=people,dc=example,dc=test',
    user_filter: '(objectClass=inetOrgPerson)',
    email_attribute: 'mail',
    name_attribute: 'cn',
    group_base: 'ou=groups,dc=example,dc=test',
    group_filter: '(objectClass=groupOfNames)',
    member_attribute: 'member',
    starttls: false,
    created_at: '2026-01-05T10:00:00Z',
    last_sync_at: null,
    last_sync: null,
    last_error: null,
    ...overrides,
  };
}

const report: SyncReport = {
  users_created: 2,
  users_updated: 1,
  users_disabled: 0,
  groups_created: 1,
  groups_updated: 0,
  groups_deleted: 0,
  skipped: [{ entry: 'uid=robot,ou=people,dc=example,dc=test', reason: 'no mail attribute' }],
};

const headOffice = { id: 'd-1', name: 'Head office' };

function adminUser(overrides: Partial<AdminUser> = {}): AdminUser {
  return {
    id: 'u-3',
    email: 'alan@example.test',
    display_name: 'Alan Turing',
    role: 'member',
    disabled: false,
    must_change_password: false,
    created_at: '2026-01-05T10:00:00Z',
    directory: null,
    ...overrides,
  };
}

function group(overrides: Partial<Group> = {}): Group {
  return { id: 'g-1', name: 'Sales', description: '', member_count: 1, created_at: '2026-01-05T10:00:00Z', directory: null, ...overrides };
}

describe('the Directories section', () => {
  it('lists the directories with their last sync or last error', async () => {
    mockFetch({
      ...base,
      'GET /api/admin/directories': {
        status: 200,
        body: {
          directories: [
            directory({ last_sync_at: '2026-01-06T08:00:00Z', last_sync: report }),
            directory({
              id: 'd-2',
              name: 'Factory',
              url: 'ldap://factory.example.test:389',
              last_sync_at: '2026-01-06T08:00:00Z',
              last_error: 'bind failed: invalid credentials',
            }),
          ],
        },
      },
    });
    renderApp('/admin/directories');
    const list = await screen.findByTestId('directory-list');
    const rows = within(list).getAllByTestId('directory');
    expect(rows).toHaveLength(2);
    expect(rows[0]?.textContent).toContain('ldaps://dc1.example.test:636');
    expect(rows[0]?.textContent).toContain('2 users added, 1 updated, 0 disabled; 1 group added, 0 updated, 0 deleted; 1 entry skipped');
    expect(within(rows[0] as HTMLElement).queryByRole('alert')).toBeNull();
    const error = within(rows[1] as HTMLElement).getByRole('alert');
    expect(error.textContent).toContain('bind failed: invalid credentials');
    // Listed in the console's menu for those who manage the organization.
    const nav = screen.getByTestId('admin-nav');
    expect(within(nav).getByRole('link', { name: 'Directories' }).getAttribute('aria-current')).toBe('page');
  });

  it("adds a directory, showing the server's bind failure while keeping what was typed", async () => {
    let attempts = 0;
    const { calls } = mockFetch({
      ...asOwner,
      'GET /api/admin/directories': { status: 200, body: { directories: [] } },
      'POST /api/admin/directories': (call) => {
        attempts += 1;
        if (attempts === 1) {
          return {
            status: 400,
            body: { error: { code: 'directory.unreachable', message: 'bind as cn=nexus,dc=example,dc=test failed: invalid credentials' } },
          };
        }
        return { status: 201, body: directory({ id: 'd-9', ...(call.body as Partial<Directory>) }) };
      },
    });
    renderApp('/admin/directories');
    expect(await screen.findByText('No directories connected')).toBeTruthy();
    expect(screen.queryByTestId('directories-owner-only')).toBeNull();
    fireEvent.click(screen.getByRole('button', { name: 'Add directory' }));
    const form = await screen.findByTestId('directory-form');

    // Required fields are checked before anything is sent.
    fireEvent.click(within(form).getByRole('button', { name: 'Add directory' }));
    expect(await within(form).findByText('Name the directory, such as Head office.')).toBeTruthy();
    expect(calls.some((c) => c.method === 'POST')).toBe(false);

    const typed: Record<string, string> = {
      Name: ' Head office ',
      'Server URL': 'ldap://dc1.example.test:389',
      'Bind DN': 'cn=nexus,dc=example,dc=test',
      'Bind password': 'wrong horse',
      'Users are under (base DN)': 'ou=people,dc=example,dc=test',
      'Groups are under (base DN, optional)': 'ou=groups,dc=example,dc=test',
      'Name attribute': 'displayName',
    };
    for (const [label, value] of Object.entries(typed)) {
      fireEvent.change(within(form).getByLabelText(label), { target: { value } });
    }
    // The server's defaults are filled in; an emptied one goes back to its default.
    expect((within(form).getByLabelText('User filter') as HTMLInputElement).value).toBe('(objectClass=inetOrgPerson)');
    expect((within(form).getByLabelText('E-mail attribute') as HTMLInputElement).value).toBe('mail');
    expect((within(form).getByLabelText('Group filter') as HTMLInputElement).value).toBe('(objectClass=groupOfNames)');
    fireEvent.change(within(form).getByLabelText('Member attribute'), { target: { value: '' } });
    fireEvent.click(within(form).getByLabelText('Use StartTLS'));
    expect(within(form).getByText('ldap://host:389 or ldaps://host:636')).toBeTruthy();
    fireEvent.click(within(form).getByRole('button', { name: 'Add directory' }));

    const unreachable = await screen.findByTestId('directory-unreachable');
    expect(unreachable.textContent).toContain('bind as cn=nexus,dc=example,dc=test failed: invalid credentials');
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      name: 'Head office',
      url: 'ldap://dc1.example.test:389',
      bind_dn: 'cn=nexus,dc=example,dc=test',
      bind_password: 'wrong horse',
      user_base: 'ou=people,dc=example,dc=test',
      user_filter: '(objectClass=inetOrgPerson)',
      email_attribute: 'mail',
      name_attribute: 'displayName',
      group_base: 'ou=groups,dc=example,dc=test',
      group_filter: '(objectClass=groupOfNames)',
      member_attribute: 'member',
      starttls: true,
    });
    // Nothing typed is lost, the password included.
    const stillThere = screen.getByTestId('directory-form');
    for (const [label, value] of Object.entries(typed)) {
      expect((within(stillThere).getByLabelText(label) as HTMLInputElement).value).toBe(value);
    }
    expect((within(stillThere).getByLabelText('Use StartTLS') as HTMLInputElement).checked).toBe(true);

    fireEvent.change(within(stillThere).getByLabelText('Bind password'), { target: { value: 'correct horse' } });
    fireEvent.click(within(stillThere).getByRole('button', { name: 'Add directory' }));
    expect((await screen.findByTestId('directory-created')).textContent).toContain('Head office is connected');
    expect(screen.queryByTestId('directory-form')).toBeNull();
    expect(screen.getByTestId('directory-list').textContent).toContain('ldap://dc1.example.test:389');
    expect(calls.filter((c) => c.method === 'POST').map((c) => (c.body as { bind_password: string }).bind_password)).toEqual([
      'wrong horse',
      'correct horse',
    ]);
  });

  it("puts a taken name, and what the server finds wrong with a field, at that field", async () => {
    const replies = [
      { status: 409, body: { error: { code: 'conflict', message: 'a directory named Head office already exists' } } },
      {
        status: 400,
        body: { error: { code: 'validation.failed', message: 'user_filter: an LDAP filter in parentheses, such as (objectClass=person)' } },
      },
    ];
    const { calls } = mockFetch({
      ...asOwner,
      'GET /api/admin/directories': { status: 200, body: { directories: [] } },
      'POST /api/admin/directories': () => replies.shift() ?? { status: 500 },
    });
    renderApp('/admin/directories');
    fireEvent.click(await screen.findByRole('button', { name: 'Add directory' }));
    const form = await screen.findByTestId('directory-form');
    fireEvent.change(within(form).getByLabelText('Name'), { target: { value: 'Head office' } });
    fireEvent.change(within(form).getByLabelText('Server URL'), { target: { value: 'ldaps://dc1.example.test' } });
    fireEvent.change(within(form).getByLabelText('Bind DN'), { target: { value: 'cn=nexus' } });
    fireEvent.change(within(form).getByLabelText('Bind password'), { target: { value: 'secret' } });
    fireEvent.change(within(form).getByLabelText('Users are under (base DN)'), { target: { value: 'dc=example' } });

    // StartTLS on an ldaps:// address is refused before anything is sent.
    fireEvent.click(within(form).getByLabelText('Use StartTLS'));
    fireEvent.click(within(form).getByRole('button', { name: 'Add directory' }));
    expect(await within(form).findByText(/encrypted already: untick StartTLS/)).toBeTruthy();
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
    fireEvent.click(within(form).getByLabelText('Use StartTLS'));

    fireEvent.click(within(form).getByRole('button', { name: 'Add directory' }));
    expect(await within(form).findByText('a directory named Head office already exists')).toBeTruthy();
    expect(within(form).getByLabelText('Name').getAttribute('aria-invalid')).toBe('true');
    expect(document.activeElement).toBe(within(form).getByLabelText('Name'));

    fireEvent.change(within(form).getByLabelText('Name'), { target: { value: 'Head office 2' } });
    fireEvent.change(within(form).getByLabelText('User filter'), { target: { value: 'objectClass=person' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Add directory' }));
    expect(await within(form).findByText(/^user_filter: an LDAP filter in parentheses/)).toBeTruthy();
    expect(within(form).getByLabelText('User filter').getAttribute('aria-invalid')).toBe('true');
    expect(within(form).getByLabelText('Name').getAttribute('aria-invalid')).toBeNull();
    expect(document.activeElement).toBe(within(form).getByLabelText('User filter'));
  });

  it('syncs now and shows the report, with the skipped entries', async () => {
    const { calls } = mockFetch({
      ...base,
      'GET /api/admin/directories': { status: 200, body: { directories: [directory()] } },
      'GET /api/admin/directories/d-1': { status: 200, body: directory() },
      'POST /api/admin/directories/d-1/sync': { status: 200, body: report },
    });
    renderApp('/admin/directories?id=d-1');
    const detail = await screen.findByTestId('directory-detail');
    expect(detail.textContent).toContain('Not synced yet.');
    fireEvent.click(within(detail).getByRole('button', { name: 'Sync now' }));

    const result = await screen.findByTestId('sync-report');
    expect(result.textContent).toContain('2 users added, 1 updated, 0 disabled; 1 group added, 0 updated, 0 deleted; 1 entry skipped.');
    const skipped = within(result).getByTestId('sync-skipped');
    expect(skipped.textContent).toContain('uid=robot,ou=people,dc=example,dc=test');
    expect(skipped.textContent).toContain('no mail attribute');
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.path)).toEqual(['/api/admin/directories/d-1/sync']);
  });

  it("shows why a sync could not reach the directory", async () => {
    mockFetch({
      ...base,
      'GET /api/admin/directories': { status: 200, body: { directories: [directory()] } },
      'GET /api/admin/directories/d-1': { status: 200, body: directory() },
      'POST /api/admin/directories/d-1/sync': {
        status: 400,
        body: { error: { code: 'directory.unreachable', message: 'cannot connect to dc1.example.test:636: connection refused' } },
      },
    });
    renderApp('/admin/directories?id=d-1');
    fireEvent.click(await screen.findByRole('button', { name: 'Sync now' }));
    expect((await screen.findByTestId('sync-error')).textContent).toContain('connection refused');
    expect(screen.queryByTestId('sync-report')).toBeNull();
  });

  it('saves changes without the bind password unless a new one is typed', async () => {
    const { calls } = mockFetch({
      ...asOwner,
      'GET /api/admin/directories': { status: 200, body: { directories: [directory()] } },
      'GET /api/admin/directories/d-1': { status: 200, body: directory() },
      'PATCH /api/admin/directories/d-1': (call) => ({
        status: 200,
        body: directory(call.body as Partial<Directory>),
      }),
    });
    renderApp('/admin/directories?id=d-1');
    const form = await screen.findByTestId('directory-form');
    expect((within(form).getByLabelText('Bind DN') as HTMLInputElement).value).toBe('cn=nexus,ou=services,dc=example,dc=test');
    expect((within(form).getByLabelText('Bind password') as HTMLInputElement).value).toBe('');
    fireEvent.change(within(form).getByLabelText('Groups are under (base DN, optional)'), { target: { value: '' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Save changes' }));
    expect(await screen.findByTestId('directory-saved')).toBeTruthy();
    const patch = calls.find((c) => c.method === 'PATCH');
    expect(patch?.body).not.toHaveProperty('bind_password');
    expect(patch?.body).toMatchObject({ name: 'Head office', group_base: '', starttls: false });
    expect(screen.getByTestId('directory-detail').textContent).toContain('None: groups are not synced');
  });

  it('removes a directory only after confirmation', async () => {
    const { calls } = mockFetch({
      ...asOwner,
      'GET /api/admin/directories': { status: 200, body: { directories: [directory()] } },
      'GET /api/admin/directories/d-1': { status: 200, body: directory() },
      'DELETE /api/admin/directories/d-1': { status: 204 },
    });
    renderApp('/admin/directories?id=d-1');
    fireEvent.click(await screen.findByTestId('remove-directory'));
    expect(screen.queryByTestId('directories-owner-only')).toBeNull();
    const question = await screen.findByRole('group', { name: 'Remove directory' });
    expect(question.textContent).toMatch(/users it brought in are disabled/);
    expect(question.textContent).toMatch(/reset a user's password to keep them/);
    expect(question.textContent).toMatch(/groups it brought in are deleted/);
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);

    fireEvent.click(screen.getByTestId('remove-directory-confirm'));
    await waitFor(() => expect(window.location.search).toBe(''));
    expect(window.location.pathname).toBe('/admin/directories');
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual(['/api/admin/directories/d-1']);
  });

  it('lets an administrator who is not an owner look and sync, but not change anything', async () => {
    const { calls } = mockFetch({
      ...base,
      'GET /api/admin/directories': {
        status: 200,
        body: { directories: [directory({ last_sync_at: '2026-01-06T08:00:00Z', last_sync: report })] },
      },
      'GET /api/admin/directories/d-1': {
        status: 200,
        body: directory({ last_sync_at: '2026-01-06T08:00:00Z', last_sync: report }),
      },
      'POST /api/admin/directories/d-1/sync': { status: 200, body: report },
    });
    renderApp('/admin/directories');
    const list = await screen.findByTestId('directory-list');
    expect(within(list).getAllByTestId('directory')).toHaveLength(1);
    expect(screen.getByTestId('directories-owner-only').textContent).toBe(
      'Only an owner can connect, change or remove directories.',
    );
    expect(screen.queryByRole('button', { name: 'Add directory' })).toBeNull();

    fireEvent.click(within(list).getByRole('link', { name: 'Head office' }));
    const detail = await screen.findByTestId('directory-detail');
    expect(window.location.search).toBe('?id=d-1');
    expect(within(detail).getByTestId('directories-owner-only').textContent).toBe(
      'Only an owner can connect, change or remove directories.',
    );
    // The last sync's report is there, and so is Sync now.
    expect(detail.textContent).toContain('2 users added, 1 updated, 0 disabled; 1 group added, 0 updated, 0 deleted; 1 entry skipped.');
    expect(within(detail).getByTestId('sync-skipped').textContent).toContain('no mail attribute');
    // The settings, read-only: no form, no Save changes, no Remove directory.
    const settings = within(detail).getByTestId('directory-settings');
    expect(settings.textContent).toContain('cn=nexus,ou=services,dc=example,dc=test');
    expect(settings.textContent).toContain('(objectClass=inetOrgPerson)');
    expect(settings.textContent).toContain('Kept by NEXUS, never shown');
    expect(within(detail).queryByTestId('directory-form')).toBeNull();
    expect(within(detail).queryAllByRole('textbox')).toHaveLength(0);
    expect(within(detail).queryByRole('button', { name: 'Save changes' })).toBeNull();
    expect(within(detail).queryByRole('button', { name: 'Remove directory' })).toBeNull();
    expect(within(detail).queryByTestId('remove-directory')).toBeNull();
    expect(calls.some((c) => c.method !== 'GET')).toBe(false);

    fireEvent.click(within(detail).getByRole('button', { name: 'Sync now' }));
    expect((await screen.findByTestId('sync-report')).textContent).toContain('1 entry skipped.');
    expect(calls.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /api/admin/directories/d-1/sync',
    ]);
  });

  it('tells a non-owner with no directories who can connect one', async () => {
    mockFetch({
      ...base,
      'GET /api/admin/directories': { status: 200, body: { directories: [] } },
    });
    renderApp('/admin/directories');
    expect(await screen.findByText('No directories connected')).toBeTruthy();
    expect(screen.getByText(/Once an owner connects/)).toBeTruthy();
    expect(screen.getByTestId('directories-owner-only')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Add directory' })).toBeNull();
  });

  it('is not offered without org:manage', async () => {
    const { calls } = mockFetch({
      ...base,
      'GET /api/session': { status: 200, body: sessionAs('member', ALL_PERMISSIONS.filter((p) => p !== 'org:manage')) },
      'GET /api/admin/users': { status: 200, body: { users: [] } },
    });
    renderApp('/admin/users');
    const nav = await screen.findByTestId('admin-nav');
    expect(within(nav).queryByRole('link', { name: 'Directories' })).toBeNull();

    cleanup();
    renderApp('/admin/directories');
    const section = await screen.findByTestId('admin-section-directories');
    expect(section.textContent).toContain('You cannot open Directories');
    expect(section.textContent).toContain('org:manage');
    expect(calls.some((c) => c.path.startsWith('/api/admin/directories'))).toBe(false);
  });
});

describe('users and groups from a directory', () => {
  it('badges them in the lists', async () => {
    mockFetch({
      ...base,
      'GET /api/admin/users': {
        status: 200,
        body: { users: [adminUser({ directory: headOffice }), adminUser({ id: 'u-4', email: 'own@example.test', display_name: 'Own' })] },
      },
      'GET /api/admin/groups': {
        status: 200,
        body: { groups: [group({ directory: headOffice }), group({ id: 'g-2', name: 'Local' })] },
      },
    });
    renderApp('/admin/users');
    const users = await screen.findByTestId('user-table');
    const badges = within(users).getAllByTestId('directory-badge');
    expect(badges.map((b) => b.textContent)).toEqual(['From Head office']);
    expect(badges[0]?.closest('tr')?.textContent).toContain('Alan Turing');

    cleanup();
    renderApp('/admin/groups');
    const groups = await screen.findByTestId('group-table');
    expect(within(groups).getAllByTestId('directory-badge').map((b) => b.closest('tr')?.textContent)).toEqual([
      expect.stringContaining('Sales'),
    ]);
  });

  it("keeps a directory's group read-only, but lets roles be granted to it", async () => {
    const alan = adminUser({ directory: headOffice });
    const bob = adminUser({ id: 'u-5', email: 'bob@example.test', display_name: 'Bob', directory: headOffice });
    mockFetch({
      ...base,
      'GET /api/admin/groups/g-1': { status: 200, body: { ...group({ directory: headOffice }), members: [alan] } },
      'GET /api/admin/users': { status: 200, body: { users: [alan, bob] } },
      'GET /api/admin/roles': {
        status: 200,
        body: { roles: [{ id: 'r-1', name: 'Auditors', description: '', permissions: ['audit:read'], created_at: '2026-01-05T10:00:00Z' }] },
      },
      'GET /api/admin/roles/r-1': {
        status: 200,
        body: { id: 'r-1', name: 'Auditors', description: '', permissions: ['audit:read'], created_at: '2026-01-05T10:00:00Z', users: [], groups: [] },
      },
    });
    renderApp('/admin/groups?id=g-1');
    const detail = await screen.findByTestId('group-detail');
    expect(within(detail).getByTestId('directory-badge').textContent).toBe('From Head office');
    expect(within(detail).getByTestId('directory-managed').textContent).toBe(
      'Managed in the directory Head office; changes come with the next sync.',
    );
    expect(within(detail).getByTestId('group-members').textContent).toContain('Alan Turing');
    expect(within(detail).queryByTestId('group-form')).toBeNull();
    expect(within(detail).queryByRole('button', { name: /^Remove/ })).toBeNull();
    expect(within(detail).queryByLabelText('Add a member')).toBeNull();
    expect(within(detail).queryByTestId('delete-group')).toBeNull();
    expect(within(detail).getByLabelText('Grant a role')).toBeTruthy();
  });

  it('offers no password reset for a user who logs in with the directory password', async () => {
    mockFetch({
      ...base,
      'GET /api/admin/users/u-3': {
        status: 200,
        body: { ...adminUser({ directory: headOffice }), groups: [], roles: [], permissions: ['users:read'] },
      },
      'GET /api/admin/groups': { status: 200, body: { groups: [] } },
    });
    renderApp('/admin/users?id=u-3');
    const detail = await screen.findByTestId('user-detail');
    expect(within(detail).getByTestId('directory-badge').textContent).toBe('From Head office');
    expect(within(detail).getByTestId('directory-password').textContent).toContain('the directory Head office');
    expect(within(detail).queryByTestId('reset-password')).toBeNull();
    expect(within(detail).getByTestId('reset-mfa')).toBeTruthy();
    expect(within(detail).getByTestId('toggle-disabled')).toBeTruthy();
    expect(within(detail).getByRole('button', { name: 'Change role' })).toBeTruthy();
  });
});
