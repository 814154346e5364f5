import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AccountSession } from '../api';
import { catalog, mockFetch, renderApp, session } from './helpers';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  window.history.replaceState(null, '', '/');
});

const here: AccountSession = {
  id: '00112233aabbccdd',
  created_at: '2026-11-24T10:00:00Z',
  expires_at: '2026-12-08T10:00:00Z',
  client: '127.0.0.1',
  current: true,
};
const phone: AccountSession = {
  id: 'ffeeddcc44556677',
  created_at: '2026-11-20T08:30:00Z',
  expires_at: '2026-12-04T08:30:00Z',
  client: '203.0.113.7',
  current: false,
};

/** The account page's other cards, answered so that only the sessions card matters. */
const account = {
  'GET /api/session': { status: 200, body: session() },
  'GET /api/apps': { status: 200, body: catalog },
  'GET /api/account/mfa': { status: 200, body: { totp: false, recovery_codes_left: 0 } },
  'GET /api/account/passkeys': { status: 200, body: { passkeys: [] } },
  'GET /api/tokens': { status: 200, body: { tokens: [] } },
};

async function sessionCard() {
  const card = await screen.findByTestId('sessions');
  await within(card).findByTestId('session-list');
  return card;
}

describe('sessions card', () => {
  it('lists the sessions and marks this device, which it does not offer to sign out', async () => {
    mockFetch({ ...account, 'GET /api/account/sessions': { status: 200, body: { sessions: [here, phone] } } });
    renderApp('/account');
    const card = await sessionCard();
    const rows = within(card).getAllByTestId('session');
    expect(rows).toHaveLength(2);
    expect(rows[0]?.textContent).toContain('127.0.0.1');
    expect(rows[0]?.textContent).toContain('This device');
    expect(rows[0]?.getAttribute('data-current')).toBe('true');
    expect(within(rows[0]!).queryByRole('button')).toBeNull();
    expect(rows[1]?.textContent).toContain('203.0.113.7');
    expect(within(rows[1]!).queryByText('This device')).toBeNull();
    expect(within(rows[1]!).getByRole('button', { name: 'Sign out the session from 203.0.113.7' })).toBeTruthy();
    expect(within(rows[1]!).getAllByText(/2026/).length).toBeGreaterThan(0);
  });

  it('signs another session out', async () => {
    const { calls } = mockFetch({
      ...account,
      'GET /api/account/sessions': { status: 200, body: { sessions: [here, phone] } },
      'DELETE /api/account/sessions/ffeeddcc44556677': { status: 204 },
    });
    renderApp('/account');
    const card = await sessionCard();
    fireEvent.click(within(card).getByRole('button', { name: /^Sign out/ }));
    expect((await within(card).findByTestId('session-ended')).textContent).toContain('203.0.113.7');
    expect(within(card).getAllByTestId('session')).toHaveLength(1);
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual([
      '/api/account/sessions/ffeeddcc44556677',
    ]);
  });

  it('drops a session that had already ended', async () => {
    mockFetch({
      ...account,
      'GET /api/account/sessions': { status: 200, body: { sessions: [here, phone] } },
      'DELETE /api/account/sessions/ffeeddcc44556677': {
        status: 404,
        body: { error: { code: 'not_found', message: 'no such session' } },
      },
    });
    renderApp('/account');
    const card = await sessionCard();
    fireEvent.click(within(card).getByRole('button', { name: /^Sign out/ }));
    expect((await within(card).findByTestId('session-ended')).textContent).toContain('already ended');
    expect(within(card).getAllByTestId('session')).toHaveLength(1);
  });

  it('shows a failed sign-out and keeps the session', async () => {
    mockFetch({
      ...account,
      'GET /api/account/sessions': { status: 200, body: { sessions: [here, phone] } },
      'DELETE /api/account/sessions/ffeeddcc44556677': {
        status: 503,
        body: { error: { code: 'store.unavailable', message: 'the database is not answering' } },
      },
    });
    renderApp('/account');
    const card = await sessionCard();
    fireEvent.click(within(card).getByRole('button', { name: /^Sign out/ }));
    expect((await within(card).findByTestId('sessions-error')).textContent).toContain('the database is not answering');
    expect(within(card).getAllByTestId('session')).toHaveLength(2);
  });

  it('says when the list cannot be loaded, and tries again', async () => {
    let up = false;
    mockFetch({
      ...account,
      'GET /api/account/sessions': () =>
        up
          ? { status: 200, body: { sessions: [here] } }
          : { status: 500, body: { error: { code: 'internal', message: 'the server ran into a problem' } } },
    });
    renderApp('/account');
    const card = await screen.findByTestId('sessions');
    expect((await within(card).findByRole('alert')).textContent).toContain('the server ran into a problem');
    up = true;
    fireEvent.click(within(card).getByRole('button', { name: 'Try again' }));
    expect(await within(card).findByTestId('session-list')).toBeTruthy();
  });

  it('logs out everywhere after asking, and returns to the login page', async () => {
    let loggedIn = true;
    const { calls } = mockFetch({
      ...account,
      'GET /api/session': () =>
        loggedIn ? { status: 200, body: session() } : { status: 401, body: { error: { code: 'auth.required', message: 'log in first' } } },
      'GET /api/account/sessions': { status: 200, body: { sessions: [here, phone] } },
      'POST /api/session/logout-everywhere': () => {
        loggedIn = false;
        return { status: 204 };
      },
    });
    renderApp('/account');
    const card = await sessionCard();
    fireEvent.click(within(card).getByTestId('logout-everywhere'));
    expect(within(card).getByText(/End every session, this one included/)).toBeTruthy();
    expect(calls.some((c) => c.path === '/api/session/logout-everywhere')).toBe(false);
    fireEvent.click(within(card).getByRole('button', { name: 'Log out on every device' }));
    await waitFor(() => expect(window.location.pathname).toBe('/login'));
    const post = calls.find((c) => c.path === '/api/session/logout-everywhere');
    expect(post?.method).toBe('POST');
    expect((post?.init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });
});
