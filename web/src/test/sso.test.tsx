import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, type LoginProvider, type SsoProvider } from '../api';
import { ALL_PERMISSIONS, authRequired, catalog, mockFetch, renderApp, session, sessionAs, stubAssign } from './helpers';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  Reflect.deleteProperty(navigator, 'clipboard');
  window.history.replaceState(null, '', '/');
});

const loginProviders: LoginProvider[] = [
  { id: 'p-1', name: 'NEXUS A' },
  { id: 'p-2', name: 'Entra ID' },
];

const signedOut = {
  'GET /api/apps': { status: 200, body: catalog },
  'GET /api/session': authRequired,
  'GET /api/sso/providers': { status: 200, body: { providers: loginProviders } },
};

describe('signing in through a provider', () => {
  it('offers a button per provider that goes to it, with where to go next', async () => {
    const { calls } = mockFetch(signedOut);
    renderApp('/login?next=%2Faccount%3Ftab%3D1');
    const buttons = await screen.findAllByTestId('sso-login');
    expect(buttons.map((b) => b.textContent)).toEqual(['Sign in with NEXUS A', 'Sign in with Entra ID']);
    expect(screen.getByRole('button', { name: 'Sign in with Entra ID' })).toBe(buttons[1]);
    expect(screen.getByTestId('sso-providers').textContent).toContain('or');
    // Below the password form, which is as before.
    expect(screen.getByRole('button', { name: 'Log in' })).toBeTruthy();
    expect(calls.filter((c) => c.path.startsWith('/api/sso/')).map((c) => c.path)).toEqual(['/api/sso/providers']);

    const assign = stubAssign();
    fireEvent.click(buttons[1] as HTMLElement);
    expect(assign).toHaveBeenCalledWith('/api/sso/p-2/start?next=%2Faccount%3Ftab%3D1');
  });

  it('sends no next when there is nowhere particular to go', async () => {
    mockFetch(signedOut);
    renderApp('/login');
    const [first] = await screen.findAllByTestId('sso-login');
    const assign = stubAssign();
    fireEvent.click(first as HTMLElement);
    expect(assign).toHaveBeenCalledWith('/api/sso/p-1/start');
    expect(api.ssoStartUrl('p 1', '/')).toBe('/api/sso/p%201/start');
    expect(api.ssoStartUrl('p-1', '/admin/sso')).toBe('/api/sso/p-1/start?next=%2Fadmin%2Fsso');
  });

  it("asks for the providers of the organization named in the address", async () => {
    const { calls } = mockFetch({
      ...signedOut,
      'GET /api/sso/providers?org=acme': { status: 200, body: { providers: [loginProviders[0]] } },
    });
    renderApp('/login?org=acme');
    expect((await screen.findAllByTestId('sso-login')).map((b) => b.textContent)).toEqual(['Sign in with NEXUS A']);
    expect(calls.filter((c) => c.path.startsWith('/api/sso/')).map((c) => c.path)).toEqual(['/api/sso/providers?org=acme']);
  });

  it('shows no buttons, and the page as before, when the list cannot be had', async () => {
    const { calls } = mockFetch({
      ...signedOut,
      'GET /api/sso/providers': { status: 500, body: { error: { code: 'internal', message: 'boom' } } },
    });
    renderApp('/login');
    expect(await screen.findByRole('button', { name: 'Log in' })).toBeTruthy();
    await waitFor(() => expect(calls.some((c) => c.path === '/api/sso/providers')).toBe(true));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(screen.queryAllByTestId('sso-login')).toHaveLength(0);
    expect(screen.queryByTestId('sso-providers')).toBeNull();
    expect(screen.queryByTestId('login-error')).toBeNull();
  });

  it('shows no buttons when there are none', async () => {
    mockFetch({ ...signedOut, 'GET /api/sso/providers': { status: 200, body: { providers: [] } } });
    renderApp('/login');
    expect(await screen.findByRole('button', { name: 'Log in' })).toBeTruthy();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(screen.queryByTestId('sso-providers')).toBeNull();
  });

  it('says why the sign-in did not work', async () => {
    const cases: [string, string][] = [
      ['expired', 'That sign-in took too long or was started in another browser. Try again.'],
      ['denied', 'The sign-in was cancelled at your provider.'],
      ['no_account', 'There is no account here for you yet. Ask an administrator to add you.'],
      ['unverified', 'Your provider did not confirm your e-mail address, so it cannot open an account here. Ask an administrator.'],
      ['disabled', 'This account is disabled. Ask an administrator.'],
      [
        'link_required',
        'Your account here has administrator rights, so it is not linked to your provider by e-mail address. Log in with your password, then link the provider on your Account page.',
      ],
      ['link_taken', 'That provider account is already linked to another account here.'],
      ['failed', "Signing in through your provider did not work. Try again, or ask an administrator to check the provider's settings."],
      ['something_new', "Signing in through your provider did not work. Try again, or ask an administrator to check the provider's settings."],
    ];
    mockFetch(signedOut);
    for (const [code, message] of cases) {
      renderApp(`/login?sso_error=${code}&next=%2Faccount`);
      expect((await screen.findByTestId('login-error')).textContent).toBe(message);
      // The buttons are there to try again.
      expect(await screen.findAllByTestId('sso-login')).toHaveLength(2);
      cleanup();
    }
    renderApp('/login');
    expect(await screen.findByRole('button', { name: 'Log in' })).toBeTruthy();
    expect(screen.queryByTestId('login-error')).toBeNull();
  });

  it('shows the form to someone signed in when an app asks them to sign in again', async () => {
    mockFetch({ ...signedOut, 'GET /api/session': { status: 200, body: session() } });
    renderApp('/login?reauth=1&next=%2Foauth%2Fauthorize%3Fclient_id%3Dx');
    expect(await screen.findByTestId('reauth')).toBeTruthy();
    expect(screen.getByLabelText('Password')).toBeTruthy();
    expect(window.location.pathname).toBe('/login');
  });

  it('sends someone signed in on, without reauth', async () => {
    mockFetch({ ...signedOut, 'GET /api/session': { status: 200, body: session() } });
    renderApp('/login?next=%2Faccount');
    await waitFor(() => expect(window.location.pathname).toBe('/account'));
  });

  it('asks for the second step when the account has one, then signs in', async () => {
    let loggedIn = false;
    const { calls } = mockFetch({
      ...signedOut,
      'GET /api/session': () => (loggedIn ? { status: 200, body: session() } : authRequired),
      'POST /api/session/mfa': (call) => {
        if ((call.body as { code: string }).code !== '123456') {
          return { status: 401, body: { error: { code: 'auth.invalid_code', message: 'wrong' } } };
        }
        loggedIn = true;
        return { status: 200, body: session() };
      },
    });
    renderApp('/login?next=%2Fadmin#mfa=ch-sso');
    expect(await screen.findByRole('heading', { name: 'Two-step verification' })).toBeTruthy();
    // The challenge leaves the address bar; where to go next stays.
    expect(window.location.hash).toBe('');
    expect(window.location.pathname).toBe('/login');
    expect(window.location.search).toBe('?next=%2Fadmin');
    expect(document.activeElement).toBe(screen.getByLabelText('Code'));
    expect(screen.queryByTestId('sso-login')).toBeNull();

    const form = screen.getByTestId('mfa-form');
    fireEvent.change(within(form).getByLabelText('Code'), { target: { value: '000000' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Verify' }));
    expect((await screen.findByTestId('login-error')).textContent).toMatch(/not right/);

    fireEvent.change(within(form).getByLabelText('Code'), { target: { value: ' 123456 ' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Verify' }));
    await waitFor(() => expect(window.location.pathname).toBe('/admin/users'));
    expect(calls.filter((c) => c.path === '/api/session/mfa').map((c) => c.body)).toEqual([
      { challenge: 'ch-sso', code: '000000' },
      { challenge: 'ch-sso', code: '123456' },
    ]);
  });
});

// ---- The admin console ------------------------------------------------------

const owner = sessionAs('owner', ALL_PERMISSIONS);
/** Each provider has its own redirect URI. */
const redirectOf = (id: string) => `https://nexus.example.test/api/sso/${id}/callback`;
const REDIRECT = redirectOf('p-1');
const NEW_ID = '7d0c6c3e-2f4e-4b8a-9a57-0c1d2e3f4a5b';
const NEW_REDIRECT = redirectOf(NEW_ID);

/** `GET /api/admin/sso-providers`'s answer. */
function listing(providers: SsoProvider[], newId = NEW_ID) {
  return { status: 200, body: { providers, new_id: newId, new_redirect_uri: redirectOf(newId) } };
}

function provider(overrides: Partial<SsoProvider> = {}): SsoProvider {
  return {
    id: 'p-1',
    name: 'Head office NEXUS',
    issuer: 'https://nexus-a.example.test',
    client_id: 'client-a',
    create_users: true,
    trust_email: false,
    created_at: '2026-11-20T10:00:00Z',
    redirect_uri: redirectOf(overrides.id ?? 'p-1'),
    ...overrides,
  };
}

function admin(as = owner) {
  return {
    'GET /api/apps': { status: 200, body: catalog },
    'GET /api/session': { status: 200, body: as },
  };
}

const entra = provider({
  id: 'p-2',
  name: 'Entra ID',
  issuer: 'https://login.microsoftonline.com/tenant/v2.0',
  client_id: 'client-e',
  create_users: false,
  trust_email: true,
});
const ADD_HINT = 'Register NEXUS at the provider with this redirect URI first (some call it the callback URL).';

/** Fills the provider form's text fields. */
function fill(form: HTMLElement, values: Record<string, string>) {
  for (const [label, value] of Object.entries(values)) {
    fireEvent.change(within(form).getByLabelText(label), { target: { value } });
  }
}

describe('the Sign-in providers section', () => {
  it('lists the providers, without a redirect URI of its own', async () => {
    mockFetch({
      ...admin(),
      'GET /api/admin/sso-providers': listing([provider(), entra]),
    });
    renderApp('/admin/sso');
    const list = await screen.findByTestId('sso-list');
    const rows = within(list).getAllByTestId('sso-provider');
    expect(rows).toHaveLength(2);
    expect(within(rows[0] as HTMLElement).getByRole('link', { name: 'Head office NEXUS' }).getAttribute('href')).toBe(
      '/admin/sso?id=p-1',
    );
    expect(rows[0]?.textContent).toContain('https://nexus-a.example.test');
    expect(rows[0]?.textContent).toContain('Yes');
    expect(rows[1]?.textContent).toContain('https://login.microsoftonline.com/tenant/v2.0');
    expect(rows[1]?.textContent).toContain('No');

    // Each provider has its own: the add form and the provider's page show it.
    expect(screen.queryByTestId('sso-redirect-uri')).toBeNull();
    expect(screen.queryByLabelText('Redirect URI')).toBeNull();

    expect(screen.getByRole('button', { name: 'Add provider' })).toBeTruthy();
    expect(screen.queryByTestId('sso-owner-only')).toBeNull();
    const nav = screen.getByTestId('admin-nav');
    expect(within(nav).getByRole('link', { name: 'Sign-in providers' }).getAttribute('aria-current')).toBe('page');
    // Next to Directories in the menu.
    const labels = within(nav).getAllByRole('link').map((a) => a.textContent);
    expect(labels.indexOf('Sign-in providers')).toBe(labels.indexOf('Directories') + 1);
  });

  it('says when there are none yet', async () => {
    mockFetch({
      ...admin(),
      'GET /api/admin/sso-providers': listing([]),
    });
    renderApp('/admin/sso');
    expect(await screen.findByText('No sign-in providers yet')).toBeTruthy();
    expect(screen.queryByTestId('sso-list')).toBeNull();
    expect(screen.queryByTestId('sso-redirect-uri')).toBeNull();
  });

  it("adds a provider, showing why the provider could not be reached while keeping what was typed", async () => {
    const writeText = vi.fn(async () => {});
    Object.defineProperty(navigator, 'clipboard', { configurable: true, value: { writeText } });
    let attempts = 0;
    let stored: SsoProvider[] = [];
    const NEXT_ID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
    const { calls } = mockFetch({
      ...admin(),
      // Once the id is taken, the next provider gets another.
      'GET /api/admin/sso-providers': () => listing(stored, stored.length > 0 ? NEXT_ID : NEW_ID),
      'POST /api/admin/sso-providers': (call) => {
        attempts += 1;
        if (attempts === 1) {
          return {
            status: 400,
            body: {
              error: {
                code: 'sso.provider_unreachable',
                message: 'the sign-in provider could not be reached or is not an OpenID provider: connection refused',
              },
            },
          };
        }
        const { client_secret: _secret, ...rest } = call.body as Record<string, unknown>;
        const added = provider(rest as Partial<SsoProvider>);
        stored = [added];
        return { status: 201, body: added };
      },
    });
    renderApp('/admin/sso');
    fireEvent.click(await screen.findByRole('button', { name: 'Add provider' }));
    const form = await screen.findByTestId('sso-form');
    expect(document.activeElement).toBe(within(form).getByLabelText('Name'));

    // The redirect URI the new provider gets, to register at the provider first.
    const uri = within(form).getByTestId('sso-redirect-uri') as HTMLInputElement;
    expect(within(form).getByLabelText('Redirect URI')).toBe(uri);
    expect(uri.value).toBe(NEW_REDIRECT);
    expect(uri.readOnly).toBe(true);
    expect(within(form).getByText(ADD_HINT)).toBeTruthy();
    expect(screen.getAllByTestId('sso-redirect-uri')).toHaveLength(1);
    fireEvent.click(within(form).getByRole('button', { name: 'Copy the redirect URI' }));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith(NEW_REDIRECT));
    expect(await within(form).findByRole('button', { name: 'Copied' })).toBeTruthy();

    expect(within(form).getByText('Shown on the login page as “Sign in with …”.')).toBeTruthy();
    expect((within(form).getByLabelText('Client secret') as HTMLInputElement).type).toBe('password');
    // Off unless the owner turns it on.
    expect((within(form).getByLabelText('Create an account at first sign-in') as HTMLInputElement).checked).toBe(false);
    expect((within(form).getByLabelText("Trust the provider's e-mail addresses") as HTMLInputElement).checked).toBe(false);
    expect(within(form).getByText(/only people who already have an account here \(same e-mail address\)/)).toBeTruthy();
    expect(within(form).getByText(/such as Microsoft Entra ID\. Only turn on for a provider your organization controls\./)).toBeTruthy();

    // Required fields are checked before anything is sent.
    fireEvent.click(within(form).getByRole('button', { name: 'Add provider' }));
    expect(await within(form).findByText('Name the provider, such as Microsoft or Head office.')).toBeTruthy();
    expect(within(form).getByText('Enter the client secret the provider gave you.')).toBeTruthy();
    expect(calls.some((c) => c.method === 'POST')).toBe(false);

    const typed = {
      Name: ' Entra ID ',
      'Issuer URL': 'https://login.microsoftonline.com/tenant/v2.0',
      'Client ID': 'client-e',
      'Client secret': ' s3cret ',
    };
    fill(form, typed);
    fireEvent.click(within(form).getByLabelText("Trust the provider's e-mail addresses"));
    fireEvent.click(within(form).getByRole('button', { name: 'Add provider' }));

    const unreachable = await screen.findByTestId('sso-unreachable');
    expect(unreachable.textContent).toContain('could not be reached or is not an OpenID provider: connection refused');
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      id: NEW_ID,
      name: 'Entra ID',
      issuer: 'https://login.microsoftonline.com/tenant/v2.0',
      client_id: 'client-e',
      client_secret: ' s3cret ',
      create_users: false,
      trust_email: true,
    });
    const stillThere = screen.getByTestId('sso-form');
    for (const [label, value] of Object.entries(typed)) {
      expect((within(stillThere).getByLabelText(label) as HTMLInputElement).value).toBe(value);
    }

    fireEvent.click(within(stillThere).getByRole('button', { name: 'Add provider' }));
    expect((await screen.findByTestId('sso-created')).textContent).toContain('Sign in with Entra ID');
    expect(screen.queryByTestId('sso-form')).toBeNull();
    const rows = within(screen.getByTestId('sso-list')).getAllByTestId('sso-provider');
    expect(rows.map((r) => r.textContent)).toEqual([expect.stringContaining('Entra ID')]);
    expect(rows[0]?.textContent).toContain('No');
    expect(calls.filter((c) => c.method === 'POST').map((c) => (c.body as { id: string }).id)).toEqual([NEW_ID, NEW_ID]);

    // The list is read again: the next provider gets a new id and redirect URI.
    await waitFor(() => expect(calls.filter((c) => c.path === '/api/admin/sso-providers' && c.method === 'GET')).toHaveLength(2));
    fireEvent.click(screen.getByRole('button', { name: 'Add provider' }));
    const next = await screen.findByTestId('sso-form');
    await waitFor(() =>
      expect((within(next).getByTestId('sso-redirect-uri') as HTMLInputElement).value).toBe(redirectOf(NEXT_ID)),
    );
  });

  it('creates accounts at first sign-in only when the box is ticked', async () => {
    const { calls } = mockFetch({
      ...admin(),
      'GET /api/admin/sso-providers': listing([]),
      'POST /api/admin/sso-providers': (call) => ({ status: 201, body: provider(call.body as Partial<SsoProvider>) }),
    });
    renderApp('/admin/sso');
    fireEvent.click(await screen.findByRole('button', { name: 'Add provider' }));
    const form = await screen.findByTestId('sso-form');
    fill(form, { Name: 'Keycloak', 'Issuer URL': 'https://sso.example.test/realms/staff', 'Client ID': 'c', 'Client secret': 's' });
    fireEvent.click(within(form).getByLabelText('Create an account at first sign-in'));
    fireEvent.click(within(form).getByRole('button', { name: 'Add provider' }));
    expect(await screen.findByTestId('sso-created')).toBeTruthy();
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      id: NEW_ID,
      name: 'Keycloak',
      issuer: 'https://sso.example.test/realms/staff',
      client_id: 'c',
      client_secret: 's',
      create_users: true,
      trust_email: false,
    });
  });

  it("puts what the server finds wrong with a field at that field", async () => {
    mockFetch({
      ...admin(),
      'GET /api/admin/sso-providers': listing([]),
      'POST /api/admin/sso-providers': {
        status: 400,
        body: {
          error: {
            code: 'validation.failed',
            message: 'issuer: must be an https URL without ?query or #fragment (plain http only for localhost)',
          },
        },
      },
    });
    renderApp('/admin/sso');
    fireEvent.click(await screen.findByRole('button', { name: 'Add provider' }));
    const form = await screen.findByTestId('sso-form');
    fill(form, { Name: 'Local', 'Issuer URL': 'http://idp.example.test', 'Client ID': 'c', 'Client secret': 's' });
    fireEvent.click(within(form).getByRole('button', { name: 'Add provider' }));
    expect(await within(form).findByText(/^issuer: must be an https URL/)).toBeTruthy();
    expect(within(form).getByLabelText('Issuer URL').getAttribute('aria-invalid')).toBe('true');
    expect(document.activeElement).toBe(within(form).getByLabelText('Issuer URL'));
  });

  it('shows a provider, with its own redirect URI, and saves changes without the secret unless one is typed', async () => {
    const writeText = vi.fn(async () => {});
    Object.defineProperty(navigator, 'clipboard', { configurable: true, value: { writeText } });
    let current = provider({ redirect_uri: 'https://nexus.example.test/api/sso/p-1/callback' });
    const { calls } = mockFetch({
      ...admin(),
      'GET /api/admin/sso-providers/p-1': () => ({ status: 200, body: current }),
      'PATCH /api/admin/sso-providers/p-1': (call) => {
        const { client_secret: _secret, ...rest } = call.body as Record<string, unknown>;
        current = provider({ ...current, ...rest });
        return { status: 200, body: current };
      },
    });
    renderApp('/admin/sso?id=p-1');
    const detail = await screen.findByTestId('sso-detail');
    expect(detail.textContent).toContain('client-a');
    expect(within(detail).getByTestId('sso-create-users').textContent).toBe('Get an account at their first sign-in');
    expect(within(detail).getByTestId('sso-trust-email').textContent).toBe('Used only when the provider confirms them');
    const uri = within(detail).getByTestId('sso-redirect-uri') as HTMLInputElement;
    expect(within(detail).getByLabelText('Redirect URI')).toBe(uri);
    expect(uri.value).toBe('https://nexus.example.test/api/sso/p-1/callback');
    expect(uri.readOnly).toBe(true);
    expect(screen.getAllByTestId('sso-redirect-uri')).toHaveLength(1);
    expect(
      within(detail).getByText('Register NEXUS at the provider with this redirect URI (some call it the callback URL).'),
    ).toBeTruthy();
    fireEvent.click(within(detail).getByRole('button', { name: 'Copy the redirect URI' }));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith('https://nexus.example.test/api/sso/p-1/callback'));

    fireEvent.click(within(detail).getByRole('button', { name: 'Edit' }));
    const form = await screen.findByTestId('sso-form');
    expect((within(form).getByLabelText('Issuer URL') as HTMLInputElement).value).toBe('https://nexus-a.example.test');
    expect((within(form).getByLabelText('Client secret') as HTMLInputElement).value).toBe('');
    expect(within(form).getByText('Leave empty to keep the current secret.')).toBeTruthy();
    // Still in sight while changing, once.
    expect(screen.getAllByTestId('sso-redirect-uri').map((e) => (e as HTMLInputElement).value)).toEqual([REDIRECT]);
    expect((within(form).getByLabelText('Create an account at first sign-in') as HTMLInputElement).checked).toBe(true);
    fill(form, { Name: 'NEXUS A' });
    fireEvent.click(within(form).getByLabelText('Create an account at first sign-in'));
    fireEvent.click(within(form).getByRole('button', { name: 'Save changes' }));

    expect(await screen.findByTestId('sso-saved')).toBeTruthy();
    expect(calls.filter((c) => c.method === 'PATCH').map((c) => c.body)).toEqual([
      { name: 'NEXUS A', issuer: 'https://nexus-a.example.test', client_id: 'client-a', create_users: false, trust_email: false },
    ]);
    expect(screen.queryByTestId('sso-form')).toBeNull();
    expect(screen.getByRole('heading', { name: 'NEXUS A' })).toBeTruthy();
    expect(screen.getByTestId('sso-create-users').textContent).toBe('Only people who already have an account here can sign in');
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Edit' }));

    // A new client ID needs the secret again.
    fireEvent.click(screen.getByRole('button', { name: 'Edit' }));
    const again = await screen.findByTestId('sso-form');
    fill(again, { 'Client ID': 'client-b' });
    fireEvent.click(within(again).getByRole('button', { name: 'Save changes' }));
    expect(await within(again).findByText(/Enter the client secret again/)).toBeTruthy();
    expect(calls.filter((c) => c.method === 'PATCH')).toHaveLength(1);
    fill(again, { 'Client secret': 'new secret' });
    fireEvent.click(within(again).getByRole('button', { name: 'Save changes' }));
    expect(await screen.findByTestId('sso-saved')).toBeTruthy();
    expect(calls.filter((c) => c.method === 'PATCH').at(-1)?.body).toEqual({
      name: 'NEXUS A',
      issuer: 'https://nexus-a.example.test',
      client_id: 'client-b',
      client_secret: 'new secret',
      create_users: false,
      trust_email: false,
    });
  });

  it('removes a provider only after confirmation', async () => {
    const { calls } = mockFetch({
      ...admin(),
      'GET /api/admin/sso-providers': listing([]),
      'GET /api/admin/sso-providers/p-1': { status: 200, body: provider() },
      'DELETE /api/admin/sso-providers/p-1': { status: 204 },
    });
    renderApp('/admin/sso?id=p-1');
    fireEvent.click(await screen.findByTestId('remove-sso'));
    const question = await screen.findByRole('group', { name: 'Remove provider' });
    expect(question.textContent).toMatch(/^Remove Head office NEXUS\?/);
    expect(question.textContent).toMatch(/accounts it created stay/);
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);

    fireEvent.click(screen.getByTestId('remove-sso-confirm'));
    await waitFor(() => expect(window.location.search).toBe(''));
    expect(window.location.pathname).toBe('/admin/sso');
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual(['/api/admin/sso-providers/p-1']);
    expect(await screen.findByText('No sign-in providers yet')).toBeTruthy();
  });

  it('lets an administrator who is not an owner look, but not change anything', async () => {
    const { calls } = mockFetch({
      ...admin(session()),
      'GET /api/admin/sso-providers': listing([provider()]),
      'GET /api/admin/sso-providers/p-1': { status: 200, body: provider() },
    });
    renderApp('/admin/sso');
    expect(await screen.findByTestId('sso-list')).toBeTruthy();
    expect(screen.getByTestId('sso-owner-only').textContent).toBe('Only an owner can add or change sign-in providers.');
    expect(screen.queryByRole('button', { name: 'Add provider' })).toBeNull();

    fireEvent.click(screen.getByRole('link', { name: 'Head office NEXUS' }));
    const detail = await screen.findByTestId('sso-detail');
    expect(window.location.search).toBe('?id=p-1');
    expect(within(detail).getByTestId('sso-owner-only').textContent).toBe('Only an owner can add or change sign-in providers.');
    expect(within(detail).queryByRole('button', { name: 'Edit' })).toBeNull();
    expect(within(detail).queryByTestId('remove-sso')).toBeNull();
    expect(within(detail).queryByTestId('sso-form')).toBeNull();
    expect(calls.some((c) => c.method !== 'GET')).toBe(false);
  });

  it('is not offered without org:manage', async () => {
    const { calls } = mockFetch({
      ...admin(sessionAs('member', ['users:read'])),
      'GET /api/admin/users': { status: 200, body: { users: [] } },
    });
    renderApp('/admin/sso');
    const section = await screen.findByTestId('admin-section-sso');
    expect(section.textContent).toContain('You cannot open Sign-in providers');
    expect(within(screen.getByTestId('admin-nav')).queryByRole('link', { name: 'Sign-in providers' })).toBeNull();
    expect(calls.some((c) => c.path.startsWith('/api/admin/sso-providers'))).toBe(false);
  });
});
