import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ApiToken, Session } from '../api';
import { tokenScopes } from '../pages/admin/sections';
import { catalog, mockFetch, renderApp, session, sessionAs } from './helpers';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  Reflect.deleteProperty(navigator, 'clipboard');
});

const backup: ApiToken = {
  id: '0192f0c4-0000-7000-8000-000000000001',
  name: 'Backup script',
  scopes: ['profile', 'users:read'],
  created_at: '2026-11-01T09:00:00Z',
  expires_at: '2099-01-30T09:00:00Z',
  revoked_at: null,
};
const old: ApiToken = {
  id: '0192f0c4-0000-7000-8000-000000000002',
  name: 'Old laptop',
  scopes: ['email'],
  created_at: '2026-10-01T09:00:00Z',
  expires_at: '2099-12-30T09:00:00Z',
  revoked_at: '2026-10-05T09:00:00Z',
};
const lapsed: ApiToken = { ...backup, id: '0192f0c4-0000-7000-8000-000000000003', name: 'Demo', expires_at: '2026-01-01T00:00:00Z' };

/** The account page's other cards, answered so that only the tokens card matters. */
function account(who: Session = session()) {
  return {
    'GET /api/session': { status: 200, body: who },
    'GET /api/apps': { status: 200, body: catalog },
    'GET /api/account/mfa': { status: 200, body: { totp: false, recovery_codes_left: 0 } },
    'GET /api/account/passkeys': { status: 200, body: { passkeys: [] } },
    'GET /api/account/sessions': { status: 200, body: { sessions: [] } },
  };
}

async function tokensCard() {
  const card = await screen.findByTestId('tokens');
  await waitFor(() => expect(within(card).queryByText('Loading access tokens')).toBeNull());
  return card;
}

describe('access tokens card', () => {
  it('lists the tokens with their scopes and state; only active ones can be revoked', async () => {
    mockFetch({ ...account(), 'GET /api/tokens': { status: 200, body: { tokens: [backup, old, lapsed] } } });
    renderApp('/account');
    const card = await tokensCard();
    const rows = within(card).getAllByTestId('token');
    expect(rows).toHaveLength(3);
    expect(rows[0]?.textContent).toContain('Backup script');
    expect(rows[0]?.textContent).toContain('Active');
    expect(within(rows[0]!).getByRole('list', { name: 'Scopes of Backup script' }).textContent).toBe('profileusers:read');
    expect(within(rows[0]!).getByRole('button', { name: 'Revoke Backup script' })).toBeTruthy();
    expect(rows[1]?.textContent).toContain('Revoked');
    expect(within(rows[1]!).queryByRole('button')).toBeNull();
    expect(rows[2]?.textContent).toContain('Expired');
    expect(within(rows[2]!).queryByRole('button')).toBeNull();
  });

  it('says when there are none', async () => {
    mockFetch({ ...account(), 'GET /api/tokens': { status: 200, body: { tokens: [] } } });
    renderApp('/account');
    const card = await tokensCard();
    expect(within(card).getByText('You have no access tokens.')).toBeTruthy();
  });

  it('offers the base scopes and only the permissions the user holds', async () => {
    mockFetch({ ...account(sessionAs('member', ['users:read'])), 'GET /api/tokens': { status: 200, body: { tokens: [] } } });
    renderApp('/account');
    const card = await tokensCard();
    fireEvent.click(within(card).getByRole('button', { name: 'New token' }));
    const form = within(card).getByTestId('token-form');
    const offered = within(form)
      .getAllByRole('checkbox')
      .map((c) => (c as HTMLInputElement).value);
    expect(offered).toEqual(['openid', 'profile', 'email', 'users:read']);
    expect(tokenScopes([]).map((s) => s.name)).toEqual(['openid', 'profile', 'email']);
  });

  it('creates a token and shows it once, with a copy button', async () => {
    const writeText = vi.fn(async () => {});
    Object.defineProperty(navigator, 'clipboard', { configurable: true, value: { writeText } });
    const { calls } = mockFetch({
      ...account(),
      'GET /api/tokens': { status: 200, body: { tokens: [backup] } },
      'POST /api/tokens': (call) => ({
        status: 201,
        body: {
          ...(call.body as object),
          id: '0192f0c4-0000-7000-8000-000000000009',
          created_at: '2026-11-24T10:00:00Z',
          expires_at: '2026-12-24T10:00:00Z',
          revoked_at: null,
          token: 'eyJ.shown-once.sig',
        },
      }),
    });
    renderApp('/account');
    const card = await tokensCard();
    fireEvent.click(within(card).getByRole('button', { name: 'New token' }));
    const form = within(card).getByTestId('token-form');

    fireEvent.click(within(form).getByRole('button', { name: 'Create token' }));
    expect(await within(form).findByText(/Name the token after what uses it/)).toBeTruthy();
    expect(within(form).getByText('Tick at least one scope: what the token may do.')).toBeTruthy();
    expect(calls.some((c) => c.method === 'POST')).toBe(false);

    fireEvent.change(within(form).getByLabelText('Token name'), { target: { value: '  CI deploy ' } });
    fireEvent.click(within(form).getByLabelText('users:read'));
    fireEvent.click(within(form).getByLabelText('profile'));
    fireEvent.change(within(form).getByLabelText('Expires after'), { target: { value: '30' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Create token' }));

    const created = await within(card).findByTestId('token-created');
    expect(created.textContent).toContain('Your token “CI deploy” is ready');
    expect(created.textContent).toContain('you will not see it again');
    expect(within(created).getByTestId('one-time-secret').textContent).toBe('eyJ.shown-once.sig');
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      name: 'CI deploy',
      scopes: ['profile', 'users:read'],
      expires_in_days: 30,
    });
    const rows = within(card).getAllByTestId('token');
    expect(rows.map((r) => r.querySelector('strong')?.textContent)).toEqual(['CI deploy', 'Backup script']);
    expect(within(card).queryByTestId('token-form')).toBeNull();

    fireEvent.click(within(created).getByRole('button', { name: 'Copy' }));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith('eyJ.shown-once.sig'));
    expect(await within(created).findByRole('button', { name: 'Copied' })).toBeTruthy();

    fireEvent.click(within(created).getByRole('button', { name: 'I have copied it' }));
    expect(document.body.textContent).not.toContain('eyJ.shown-once.sig');
    expect(within(card).getAllByTestId('token')).toHaveLength(2);
  });

  it('shows a scope the server refuses at the scopes', async () => {
    mockFetch({
      ...account(),
      'GET /api/tokens': { status: 200, body: { tokens: [] } },
      'POST /api/tokens': {
        status: 403,
        body: {
          error: {
            code: 'auth.forbidden',
            message: 'you do not hold the permission `audit:read`, so you cannot give it to a token or an app',
          },
        },
      },
    });
    renderApp('/account');
    const card = await tokensCard();
    fireEvent.click(within(card).getByRole('button', { name: 'New token' }));
    const form = within(card).getByTestId('token-form');
    fireEvent.change(within(form).getByLabelText('Token name'), { target: { value: 'Auditor' } });
    fireEvent.click(within(form).getByLabelText('audit:read'));
    fireEvent.click(within(form).getByRole('button', { name: 'Create token' }));
    expect(await within(form).findByText(/you do not hold the permission `audit:read`/)).toBeTruthy();
    expect(within(card).queryByTestId('token-created')).toBeNull();
  });

  it('shows a refused name above the form', async () => {
    mockFetch({
      ...account(),
      'GET /api/tokens': { status: 200, body: { tokens: [] } },
      'POST /api/tokens': {
        status: 400,
        body: { error: { code: 'validation.failed', message: 'give the token a name of 1 to 100 characters (what it is for)' } },
      },
    });
    renderApp('/account');
    const card = await tokensCard();
    fireEvent.click(within(card).getByRole('button', { name: 'New token' }));
    const form = within(card).getByTestId('token-form');
    fireEvent.change(within(form).getByLabelText('Token name'), { target: { value: 'x' } });
    fireEvent.click(within(form).getByLabelText('email'));
    fireEvent.click(within(form).getByRole('button', { name: 'Create token' }));
    expect((await within(form).findByTestId('token-form-error')).textContent).toContain('1 to 100 characters');
  });

  it('revokes a token after asking', async () => {
    const { calls } = mockFetch({
      ...account(),
      'GET /api/tokens': { status: 200, body: { tokens: [backup] } },
      [`DELETE /api/tokens/${backup.id}`]: { status: 204 },
    });
    renderApp('/account');
    const card = await tokensCard();
    fireEvent.click(within(card).getByRole('button', { name: 'Revoke Backup script' }));
    expect(within(card).getByText(/Whatever uses it stops working at once/)).toBeTruthy();
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);
    fireEvent.click(within(card).getByRole('button', { name: 'Revoke token' }));
    await waitFor(() => expect(within(card).getByTestId('token').textContent).toContain('Revoked'));
    expect(within(card).queryByRole('button', { name: /Revoke/ })).toBeNull();
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual([`/api/tokens/${backup.id}`]);
  });

  it('shows a failed revocation', async () => {
    mockFetch({
      ...account(),
      'GET /api/tokens': { status: 200, body: { tokens: [backup] } },
      [`DELETE /api/tokens/${backup.id}`]: {
        status: 404,
        body: { error: { code: 'not_found', message: `token ${backup.id} was not found` } },
      },
    });
    renderApp('/account');
    const card = await tokensCard();
    fireEvent.click(within(card).getByRole('button', { name: 'Revoke Backup script' }));
    fireEvent.click(within(card).getByRole('button', { name: 'Revoke token' }));
    expect((await within(card).findByTestId('tokens-error')).textContent).toContain('was not found');
  });
});
