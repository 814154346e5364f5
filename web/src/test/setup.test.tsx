import { act, cleanup, fireEvent, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { authRequired, catalog, mockFetch, renderApp, session } from './helpers';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  window.history.replaceState(null, '', '/');
});

const base = {
  'GET /api/apps': { status: 200, body: catalog },
};

/** Fills both password fields and submits the setup form. */
async function choose(password: string, repeat = password) {
  fireEvent.change(await screen.findByLabelText('New password'), { target: { value: password } });
  fireEvent.change(screen.getByLabelText('Repeat new password'), { target: { value: repeat } });
  fireEvent.click(screen.getByRole('button', { name: 'Set password and sign in' }));
}

function failing(status: number, code: string, message: string) {
  return { status, body: { error: { code, message } } };
}

describe('first-login setup', () => {
  it('sets the password from the link, signs in and opens the Hub', async () => {
    let done = false;
    const { calls } = mockFetch({
      ...base,
      'GET /api/session': () => (done ? { status: 200, body: session() } : authRequired),
      'POST /api/setup': () => {
        done = true;
        return { status: 200, body: session() };
      },
    });
    renderApp('/setup#token=init_TOKEN-123');
    // The token leaves the address bar at once.
    expect(window.location.hash).toBe('');
    expect(await screen.findByRole('heading', { name: 'Set up your NEXUS' })).toBeTruthy();

    await choose('a fine new passphrase', 'a fine new passphrase!');
    expect(await screen.findByText('The two passwords do not match.')).toBeTruthy();
    expect(calls.some((c) => c.path === '/api/setup')).toBe(false);

    await choose('a fine new passphrase');
    expect(await screen.findByTestId('launcher')).toBeTruthy();
    expect(window.location.pathname).toBe('/');
    const post = calls.find((c) => c.path === '/api/setup');
    expect(post?.body).toEqual({ token: 'init_TOKEN-123', new_password: 'a fine new passphrase' });
    expect((post?.init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });

  it('explains what to do without a token in the link', async () => {
    const { calls } = mockFetch({ ...base, 'GET /api/session': authRequired });
    renderApp('/setup');
    const box = await screen.findByTestId('setup-no-token');
    expect(box.textContent).toContain('nexusctl init');
    expect(box.textContent).toContain('nexusctl users reset-password --email EMAIL');
    expect(screen.queryByTestId('setup-form')).toBeNull();
    expect(screen.queryByLabelText('New password')).toBeNull();
    expect(calls.some((c) => c.path === '/api/setup')).toBe(false);
  });

  it('takes the token from a link pasted into a tab already on /setup', async () => {
    mockFetch({ ...base, 'GET /api/session': authRequired });
    renderApp('/setup');
    expect(await screen.findByTestId('setup-no-token')).toBeTruthy();
    act(() => {
      window.location.hash = '#token=pasted';
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    });
    expect(await screen.findByTestId('setup-form')).toBeTruthy();
    expect(window.location.hash).toBe('');
  });

  it('says when the link is used or expired, and how to get in anyway', async () => {
    mockFetch({
      ...base,
      'GET /api/session': authRequired,
      'POST /api/setup': failing(400, 'auth.reset_link_invalid', 'this link is not valid'),
    });
    renderApp('/setup#token=spent');
    await choose('a fine new passphrase');
    const box = await screen.findByTestId('setup-link-invalid');
    expect(box.textContent).toContain('used already, has expired');
    expect(box.textContent).toContain('nexusctl users reset-password --email EMAIL');
    expect(screen.getByRole('link', { name: 'log in' }).getAttribute('href')).toBe('/login');
    expect(screen.queryByTestId('setup-form')).toBeNull();
  });

  it('shows a weak password at the field, and keeps the form', async () => {
    mockFetch({
      ...base,
      'GET /api/session': authRequired,
      'POST /api/setup': failing(400, 'auth.weak_password', 'use at least 12 characters; a few unrelated words work well'),
    });
    renderApp('/setup#token=t');
    await choose('short');
    expect(await screen.findByText('use at least 12 characters; a few unrelated words work well')).toBeTruthy();
    expect(screen.getByLabelText('New password').getAttribute('aria-invalid')).toBe('true');
    expect(window.location.pathname).toBe('/setup');
  });

  it('shows any other refusal above the form', async () => {
    mockFetch({
      ...base,
      'GET /api/session': authRequired,
      'POST /api/setup': failing(400, 'validation.failed', 'the token is malformed'),
    });
    renderApp('/setup#token=t');
    await choose('a fine new passphrase');
    expect((await screen.findByTestId('setup-error')).textContent).toContain('the token is malformed');
    expect(screen.getByTestId('setup-form')).toBeTruthy();
  });

  it('sends an account with a second factor to log in', async () => {
    mockFetch({
      ...base,
      'GET /api/session': authRequired,
      'POST /api/setup': { status: 200, body: { mfa: { challenge: 'c-1', methods: ['totp'], expires_in: 300 } } },
    });
    renderApp('/setup#token=t');
    await choose('a fine new passphrase');
    const box = await screen.findByTestId('setup-log-in');
    expect(box.textContent).toContain('Your password is set');
    fireEvent.click(screen.getByRole('link', { name: 'Log in' }));
    expect(window.location.pathname).toBe('/login');
    expect(await screen.findByRole('button', { name: 'Log in' })).toBeTruthy();
  });
});
