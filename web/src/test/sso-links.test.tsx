import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SsoLink } from '../api';
import { catalog, mockFetch, renderApp, session, stubAssign } from './helpers';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  window.history.replaceState(null, '', '/');
});

/** The account page's other cards, answered so that only the providers card matters. */
const account = {
  'GET /api/session': { status: 200, body: session() },
  'GET /api/apps': { status: 200, body: catalog },
  'GET /api/account/mfa': { status: 200, body: { totp: false, recovery_codes_left: 0 } },
  'GET /api/account/passkeys': { status: 200, body: { passkeys: [] } },
  'GET /api/account/sessions': { status: 200, body: { sessions: [] } },
  'GET /api/tokens': { status: 200, body: { tokens: [] } },
};

const entra: SsoLink = { id: 'p-1', name: 'Entra ID', linked: false };
const keycloak: SsoLink = { id: 'p-2', name: 'Keycloak', linked: true };

async function card() {
  const found = await screen.findByTestId('sso-links');
  await within(found).findAllByTestId('sso-link-row');
  return found;
}

describe('the account page’s sign-in providers', () => {
  it('lists the organization’s providers, offering to link or unlink each', async () => {
    mockFetch({ ...account, 'GET /api/account/sso-links': { status: 200, body: { links: [entra, keycloak] } } });
    renderApp('/account');
    const found = await card();
    expect(within(found).getByRole('heading', { name: 'Sign-in providers' })).toBeTruthy();
    const rows = within(found).getAllByTestId('sso-link-row');
    expect(rows).toHaveLength(2);

    expect(rows[0]?.textContent).toContain('Entra ID');
    expect(within(rows[0]!).queryByText('Linked')).toBeNull();
    expect(within(rows[0]!).getByRole('button', { name: 'Link Entra ID' })).toBeTruthy();
    expect(within(rows[0]!).queryByRole('button', { name: /Unlink/ })).toBeNull();

    expect(rows[1]?.textContent).toContain('Keycloak');
    expect(within(rows[1]!).getByText('Linked')).toBeTruthy();
    expect(within(rows[1]!).getByRole('button', { name: 'Unlink Keycloak' })).toBeTruthy();
    expect(within(rows[1]!).queryByRole('button', { name: /^Link/ })).toBeNull();
    expect(screen.queryByTestId('sso-link-result')).toBeNull();
  });

  it('links through the provider: posts, then goes where the server says', async () => {
    const redirect = 'https://idp.example.test/authorize?client_id=c&state=s';
    const { calls } = mockFetch({
      ...account,
      'GET /api/account/sso-links': { status: 200, body: { links: [entra, keycloak] } },
      'POST /api/account/sso-links/p-1': { status: 200, body: { redirect } },
    });
    renderApp('/account');
    const found = await card();
    const assign = stubAssign();
    fireEvent.click(within(found).getByRole('button', { name: 'Link Entra ID' }));
    await waitFor(() => expect(assign).toHaveBeenCalledWith(redirect));

    const posts = calls.filter((c) => c.method === 'POST');
    expect(posts.map((c) => c.path)).toEqual(['/api/account/sso-links/p-1']);
    // Through the app's request helper: JSON declared (the CSRF check), no body.
    expect(posts[0]?.body).toBeUndefined();
    expect((posts[0]?.init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(posts[0]?.init.credentials).toBe('same-origin');
  });

  it('says when the provider cannot be reached', async () => {
    mockFetch({
      ...account,
      'GET /api/account/sso-links': { status: 200, body: { links: [entra] } },
      'POST /api/account/sso-links/p-1': {
        status: 502,
        body: { error: { code: 'sso.provider_unreachable', message: 'the sign-in provider could not be reached' } },
      },
    });
    renderApp('/account');
    const found = await card();
    const assign = stubAssign();
    fireEvent.click(within(found).getByRole('button', { name: 'Link Entra ID' }));
    expect((await within(found).findByTestId('sso-links-error')).textContent).toContain(
      'the sign-in provider could not be reached',
    );
    expect(assign).not.toHaveBeenCalled();
    // Ready to try again.
    expect(within(found).getByRole('button', { name: 'Link Entra ID' }).getAttribute('aria-busy')).toBeNull();
  });

  it('unlinks, then shows the list as it is now', async () => {
    let linked = true;
    const { calls } = mockFetch({
      ...account,
      'GET /api/account/sso-links': () => ({ status: 200, body: { links: [entra, { ...keycloak, linked }] } }),
      'DELETE /api/account/sso-links/p-2': () => {
        linked = false;
        return { status: 204 };
      },
    });
    renderApp('/account');
    const found = await card();
    fireEvent.click(within(found).getByRole('button', { name: 'Unlink Keycloak' }));
    expect(await within(found).findByRole('button', { name: 'Link Keycloak' })).toBeTruthy();
    expect(within(found).queryByText('Linked')).toBeNull();
    expect(within(found).getByTestId('sso-unlinked').textContent).toContain('Keycloak');
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual(['/api/account/sso-links/p-2']);
    expect(calls.filter((c) => c.method === 'GET' && c.path === '/api/account/sso-links')).toHaveLength(2);
  });

  it('says why an account that signs in only through the provider cannot be unlinked', async () => {
    const message =
      'this account signs in only through Keycloak: it cannot be unlinked before it has a password or a passkey';
    const { calls } = mockFetch({
      ...account,
      'GET /api/account/sso-links': { status: 200, body: { links: [keycloak] } },
      'DELETE /api/account/sso-links/p-2': { status: 403, body: { error: { code: 'auth.forbidden', message } } },
    });
    renderApp('/account');
    const found = await card();
    fireEvent.click(within(found).getByRole('button', { name: 'Unlink Keycloak' }));
    expect((await within(found).findByTestId('sso-links-error')).textContent).toContain(message);
    // Still linked.
    expect(within(found).getByText('Linked')).toBeTruthy();
    expect(within(found).getByRole('button', { name: 'Unlink Keycloak' })).toBeTruthy();
    expect(within(found).queryByTestId('sso-unlinked')).toBeNull();
    expect(calls.filter((c) => c.method === 'GET' && c.path === '/api/account/sso-links')).toHaveLength(1);
  });

  it('is not there when the organization has no providers', async () => {
    const { calls } = mockFetch({ ...account, 'GET /api/account/sso-links': { status: 200, body: { links: [] } } });
    renderApp('/account');
    expect(await screen.findByTestId('profile')).toBeTruthy();
    await waitFor(() => expect(calls.some((c) => c.path === '/api/account/sso-links')).toBe(true));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(screen.queryByTestId('sso-links')).toBeNull();
    expect(screen.queryByText('Sign-in providers')).toBeNull();
  });

  it('is not there when the list cannot be had', async () => {
    const { calls } = mockFetch(account);
    renderApp('/account');
    expect(await screen.findByTestId('sessions')).toBeTruthy();
    await waitFor(() => expect(calls.some((c) => c.path === '/api/account/sso-links')).toBe(true));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(screen.queryByTestId('sso-links')).toBeNull();
  });

  it('says the account is linked, back from the provider, and tidies the address', async () => {
    mockFetch({ ...account, 'GET /api/account/sso-links': { status: 200, body: { links: [{ ...entra, linked: true }] } } });
    renderApp('/account?sso=linked');
    const result = await screen.findByTestId('sso-link-result');
    expect(result.textContent).toBe('Linked. You can now sign in with it.');
    expect(result.className).toContain('nx-alert--success');
    await waitFor(() => expect(window.location.search).toBe(''));
    expect(window.location.pathname).toBe('/account');
    expect(within(await card()).getByText('Linked')).toBeTruthy();
  });

  it('says why linking did not work, in words about linking', async () => {
    const cases: [string, string][] = [
      ['link_taken', 'That provider account is already linked to another account here.'],
      ['expired', 'That sign-in took too long or was started in another browser. Try again.'],
      ['denied', 'The sign-in was cancelled at your provider.'],
      ['disabled', 'This account is disabled. Ask an administrator.'],
      ['failed', "Linking did not work. Try again, or ask an administrator to check the provider's settings."],
      ['something_new', "Linking did not work. Try again, or ask an administrator to check the provider's settings."],
    ];
    mockFetch({ ...account, 'GET /api/account/sso-links': { status: 200, body: { links: [entra] } } });
    for (const [code, message] of cases) {
      renderApp(`/account?sso_error=${code}`);
      const result = await screen.findByTestId('sso-link-result');
      expect(result.textContent).toBe(message);
      expect(result.className).toContain('nx-alert--danger');
      await waitFor(() => expect(window.location.search).toBe(''));
      cleanup();
    }
  });

  it('keeps other parameters of the address, and says nothing without a result', async () => {
    mockFetch({ ...account, 'GET /api/account/sso-links': { status: 200, body: { links: [entra] } } });
    renderApp('/account?tab=1&sso_error=link_taken');
    expect((await screen.findByTestId('sso-link-result')).textContent).toBe(
      'That provider account is already linked to another account here.',
    );
    await waitFor(() => expect(window.location.search).toBe('?tab=1'));
    fireEvent.click(within(screen.getByTestId('sso-link-result')).getByRole('button'));
    expect(screen.queryByTestId('sso-link-result')).toBeNull();
    cleanup();

    renderApp('/account');
    await card();
    expect(screen.queryByTestId('sso-link-result')).toBeNull();
  });
});
