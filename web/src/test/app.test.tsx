import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { authRequired, catalog, mockFetch, renderApp, session } from './helpers';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('Hub launcher', () => {
  it('renders one tile per app from GET /api/apps and greets the user', async () => {
    mockFetch({
      'GET /api/session': { status: 200, body: session() },
      'GET /api/apps': { status: 200, body: catalog },
    });
    renderApp('/');

    const launcher = await screen.findByTestId('launcher');
    const hub = within(launcher).getByTestId('app-tile-hub');
    const identity = within(launcher).getByTestId('app-tile-identity');
    expect(hub.textContent).toContain('Hub');
    expect(hub.getAttribute('href')).toBe('/');
    expect(identity.textContent).toContain('Your profile, password and sessions');
    expect(identity.getAttribute('href')).toBe('/account');
    // Known icon names render inline SVG.
    expect(hub.querySelector('svg[data-icon="grid"]')).not.toBeNull();
    expect(identity.querySelector('svg[data-icon="user"]')).not.toBeNull();
    expect(screen.getByTestId('greeting').textContent).toContain('Ada Lovelace');
    await waitFor(() => expect(document.title).toBe('Hub · NEXUS'));
  });

  it('falls back to a letter for unknown icons', async () => {
    mockFetch({
      'GET /api/session': { status: 200, body: session() },
      'GET /api/apps': {
        status: 200,
        body: { ...catalog, apps: [{ id: 'zeta', name: 'zeta', description: 'Z', path: '/zeta', icon: 'no-such-icon' }] },
      },
    });
    renderApp('/');
    const tile = await screen.findByTestId('app-tile-zeta');
    expect(tile.querySelector('svg')).toBeNull();
    expect(tile.querySelector('[data-icon-fallback]')?.textContent).toBe('Z');
  });

  it('shows an error with a retry when the catalogue fails', async () => {
    let fail = true;
    mockFetch({
      'GET /api/session': { status: 200, body: session() },
      'GET /api/apps': () =>
        fail
          ? { status: 503, body: { error: { code: 'service.unavailable', message: 'Starting up.' } } }
          : { status: 200, body: catalog },
    });
    renderApp('/');
    expect(await screen.findByText('Starting up.')).toBeTruthy();
    fail = false;
    fireEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByTestId('launcher')).toBeTruthy();
  });

  it('clicking a tile navigates client-side', async () => {
    mockFetch({
      'GET /api/session': { status: 200, body: session() },
      'GET /api/apps': { status: 200, body: catalog },
    });
    renderApp('/');
    fireEvent.click(await screen.findByTestId('app-tile-identity'));
    expect(window.location.pathname).toBe('/account');
    expect(await screen.findByTestId('profile')).toBeTruthy();
  });
});

describe('session gate', () => {
  it('redirects to /login when GET /api/session is 401', async () => {
    mockFetch({ 'GET /api/session': authRequired, 'GET /api/apps': { status: 200, body: catalog } });
    renderApp('/account');
    await waitFor(() => expect(window.location.pathname).toBe('/login'));
    expect(new URLSearchParams(window.location.search).get('next')).toBe('/account');
    expect(await screen.findByLabelText('E-mail')).toBeTruthy();
  });

  it('logs in and lands on the launcher', async () => {
    let loggedIn = false;
    const { calls } = mockFetch({
      'GET /api/session': () => (loggedIn ? { status: 200, body: session() } : authRequired),
      'POST /api/session': (call) => {
        const { email, password } = call.body as { email: string; password: string };
        if (email === 'ada@example.test' && password === 'correct horse') {
          loggedIn = true;
          return { status: 200, body: session() };
        }
        return { status: 401, body: { error: { code: 'auth.invalid_credentials', message: 'Wrong.' } } };
      },
      'GET /api/apps': { status: 200, body: catalog },
    });
    renderApp('/');
    await waitFor(() => expect(window.location.pathname).toBe('/login'));

    fireEvent.change(await screen.findByLabelText('E-mail'), { target: { value: 'ada@example.test' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'nope' } });
    fireEvent.click(screen.getByRole('button', { name: 'Log in' }));
    expect((await screen.findByTestId('login-error')).textContent).toMatch(/do not match/);

    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'correct horse' } });
    fireEvent.click(screen.getByRole('button', { name: 'Log in' }));
    expect(await screen.findByTestId('launcher')).toBeTruthy();
    expect(window.location.pathname).toBe('/');
    const post = calls.find((c) => c.method === 'POST');
    expect((post?.init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });

  it('sends a user who must change the password to /account with a banner', async () => {
    let current = false;
    mockFetch({
      'GET /api/session': () => (current ? { status: 200, body: session({ must_change_password: true }) } : authRequired),
      'POST /api/session': () => {
        current = true;
        return { status: 200, body: session({ must_change_password: true }) };
      },
      'GET /api/apps': { status: 200, body: catalog },
    });
    renderApp('/login');
    fireEvent.change(await screen.findByLabelText('E-mail'), { target: { value: 'ada@example.test' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'one-time' } });
    fireEvent.click(screen.getByRole('button', { name: 'Log in' }));
    expect(await screen.findByTestId('must-change-password')).toBeTruthy();
    expect(window.location.pathname).toBe('/account');
  });

  it('logs out through the user menu', async () => {
    const { calls } = mockFetch({
      'GET /api/session': { status: 200, body: session() },
      'GET /api/apps': { status: 200, body: catalog },
      'DELETE /api/session': { status: 204 },
    });
    renderApp('/');
    fireEvent.click(await screen.findByTestId('user-menu'));
    fireEvent.click(screen.getByRole('menuitem', { name: /log out/i }));
    await waitFor(() => expect(window.location.pathname).toBe('/login'));
    expect(calls.some((c) => c.method === 'DELETE' && c.path === '/api/session')).toBe(true);
  });
});

describe('account page', () => {
  it('shows the profile and reports a weak password from the server', async () => {
    mockFetch({
      'GET /api/session': { status: 200, body: session() },
      'GET /api/apps': { status: 200, body: catalog },
      'POST /api/session/password': {
        status: 400,
        body: { error: { code: 'auth.weak_password', message: 'Use at least 12 characters.' } },
      },
    });
    renderApp('/account');
    const profile = await screen.findByTestId('profile');
    expect(profile.textContent).toContain('Ada Lovelace');
    expect(profile.textContent).toContain('ada@example.test');
    expect(profile.textContent).toContain('Acme Ltd');
    expect(profile.textContent).toContain('Administrator');

    fireEvent.change(screen.getByLabelText('Current password'), { target: { value: 'old-password' } });
    fireEvent.change(screen.getByLabelText('New password'), { target: { value: 'short' } });
    fireEvent.change(screen.getByLabelText('Repeat new password'), { target: { value: 'short' } });
    fireEvent.click(screen.getByRole('button', { name: 'Change password' }));
    expect(await screen.findByText('Use at least 12 characters.')).toBeTruthy();
    expect(screen.getByLabelText('New password').getAttribute('aria-invalid')).toBe('true');
  });

  it('changes the password and clears the must-change banner', async () => {
    const { calls } = mockFetch({
      'GET /api/session': { status: 200, body: session({ must_change_password: true }) },
      'GET /api/apps': { status: 200, body: catalog },
      'POST /api/session/password': { status: 204 },
    });
    renderApp('/account');
    expect(await screen.findByTestId('must-change-password')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Current password'), { target: { value: 'one-time' } });
    fireEvent.change(screen.getByLabelText('New password'), { target: { value: 'a much longer secret' } });
    fireEvent.change(screen.getByLabelText('Repeat new password'), { target: { value: 'a much longer secret' } });
    fireEvent.click(screen.getByRole('button', { name: 'Change password' }));
    expect(await screen.findByTestId('password-changed')).toBeTruthy();
    expect(screen.queryByTestId('must-change-password')).toBeNull();
    const post = calls.find((c) => c.path === '/api/session/password');
    expect(post?.body).toEqual({ current_password: 'one-time', new_password: 'a much longer secret' });
  });

  it('catches mismatched new passwords before calling the server', async () => {
    const { calls } = mockFetch({
      'GET /api/session': { status: 200, body: session() },
      'GET /api/apps': { status: 200, body: catalog },
    });
    renderApp('/account');
    fireEvent.change(await screen.findByLabelText('Current password'), { target: { value: 'x' } });
    fireEvent.change(screen.getByLabelText('New password'), { target: { value: 'one thing' } });
    fireEvent.change(screen.getByLabelText('Repeat new password'), { target: { value: 'another' } });
    fireEvent.click(screen.getByRole('button', { name: 'Change password' }));
    expect(await screen.findByText('The two new passwords do not match.')).toBeTruthy();
    expect(calls.some((c) => c.path === '/api/session/password')).toBe(false);
  });
});

describe('not found', () => {
  it('renders a friendly page for unknown routes', async () => {
    mockFetch({
      'GET /api/session': { status: 200, body: session() },
      'GET /api/apps': { status: 200, body: catalog },
    });
    renderApp('/no/such/page');
    const page = await screen.findByTestId('not-found');
    expect(page.textContent).toContain('/no/such/page');
    fireEvent.click(within(page).getByRole('button', { name: 'Back to the Hub' }));
    expect(await screen.findByTestId('launcher')).toBeTruthy();
  });
});
