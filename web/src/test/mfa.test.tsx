import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { groupSecret } from '../pages/TwoStepCard';
import { authRequired, catalog, mockFetch, renderApp, session } from './helpers';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const challenge = { mfa: { challenge: 'ch-1', methods: ['totp', 'recovery_code'], expires_in: 300 } };

describe('two-step login', () => {
  it('asks for a code after the password and logs in with it', async () => {
    let loggedIn = false;
    const { calls } = mockFetch({
      'GET /api/session': () => (loggedIn ? { status: 200, body: session() } : authRequired),
      'POST /api/session': { status: 200, body: challenge },
      'POST /api/session/mfa': (call) => {
        const { code } = call.body as { code: string };
        if (code === '123456') {
          loggedIn = true;
          return { status: 200, body: session() };
        }
        return { status: 401, body: { error: { code: 'auth.invalid_code', message: 'wrong' } } };
      },
      'GET /api/apps': { status: 200, body: catalog },
    });
    renderApp('/login');
    fireEvent.change(await screen.findByLabelText('E-mail'), { target: { value: 'ada@example.test' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'correct horse' } });
    fireEvent.click(screen.getByRole('button', { name: 'Log in' }));

    const form = await screen.findByTestId('mfa-form');
    fireEvent.click(within(form).getByRole('button', { name: 'Verify' }));
    expect(await screen.findByText(/Enter the code from your authenticator app/)).toBeTruthy();
    expect(calls.some((c) => c.path === '/api/session/mfa')).toBe(false);

    fireEvent.change(screen.getByLabelText('Code'), { target: { value: '000000' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Verify' }));
    expect((await screen.findByTestId('login-error')).textContent).toMatch(/not right/);

    fireEvent.change(screen.getByLabelText('Code'), { target: { value: '123456' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Verify' }));
    expect(await screen.findByTestId('launcher')).toBeTruthy();
    const sent = calls.filter((c) => c.path === '/api/session/mfa').map((c) => c.body);
    expect(sent.at(-1)).toEqual({ challenge: 'ch-1', code: '123456' });
  });

  it('goes back to the password step when the challenge expired', async () => {
    mockFetch({
      'GET /api/session': authRequired,
      'POST /api/session': { status: 200, body: challenge },
      'POST /api/session/mfa': {
        status: 401,
        body: { error: { code: 'auth.mfa_challenge_invalid', message: 'expired' } },
      },
      'GET /api/apps': { status: 200, body: catalog },
    });
    renderApp('/login');
    fireEvent.change(await screen.findByLabelText('E-mail'), { target: { value: 'ada@example.test' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'correct horse' } });
    fireEvent.click(screen.getByRole('button', { name: 'Log in' }));
    fireEvent.change(await screen.findByLabelText('Code'), { target: { value: '123456' } });
    fireEvent.click(screen.getByRole('button', { name: 'Verify' }));
    expect((await screen.findByTestId('login-error')).textContent).toMatch(/took too long/);
    expect(screen.getByLabelText('Password')).toBeTruthy();
  });
});

describe('two-step settings', () => {
  it('sets up an authenticator app and shows the recovery codes once', async () => {
    let on = false;
    const codes = Array.from({ length: 10 }, (_, i) => `abcde-fgh${i}k`);
    const { calls } = mockFetch({
      'GET /api/session': { status: 200, body: session() },
      'GET /api/apps': { status: 200, body: catalog },
      'GET /api/account/mfa': () => ({ status: 200, body: { totp: on, recovery_codes_left: on ? 10 : 0 } }),
      'POST /api/account/mfa/totp': {
        status: 201,
        body: { secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', otpauth_url: 'otpauth://totp/Acme:ada?secret=JBSWY3DPEHPK3PXP' },
      },
      'POST /api/account/mfa/totp/confirm': () => {
        on = true;
        return { status: 200, body: { recovery_codes: codes } };
      },
    });
    renderApp('/account');
    const card = await screen.findByTestId('two-step');
    fireEvent.click(await within(card).findByRole('button', { name: 'Set up an authenticator app' }));
    expect(await screen.findByTestId('totp-qr')).toBeTruthy();
    expect(screen.getByTestId('totp-secret').textContent).toBe('JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP');

    fireEvent.click(screen.getByRole('button', { name: 'Turn on' }));
    expect(await screen.findByText('Enter the 6-digit code your app shows now.')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Code from the app'), { target: { value: '123 456' } });
    fireEvent.click(screen.getByRole('button', { name: 'Turn on' }));

    const list = await screen.findByTestId('recovery-codes');
    expect(within(list).getAllByRole('listitem')).toHaveLength(10);
    fireEvent.click(screen.getByRole('button', { name: 'I have saved these codes' }));
    expect((await screen.findByTestId('mfa-on')).textContent).toMatch(/10 recovery codes left/);
    expect(calls.find((c) => c.path === '/api/account/mfa/totp/confirm')?.body).toEqual({ code: '123 456' });
  });

  it('turns off only with the password', async () => {
    let on = true;
    mockFetch({
      'GET /api/session': { status: 200, body: session() },
      'GET /api/apps': { status: 200, body: catalog },
      'GET /api/account/mfa': () => ({ status: 200, body: { totp: on, recovery_codes_left: on ? 2 : 0 } }),
      'POST /api/account/mfa/totp/remove': (call) => {
        if ((call.body as { password: string }).password !== 'right') {
          return { status: 401, body: { error: { code: 'auth.invalid_credentials', message: 'no' } } };
        }
        on = false;
        return { status: 204 };
      },
    });
    renderApp('/account');
    expect(await screen.findByText(/Few recovery codes are left/)).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Turn off' }));
    expect(await screen.findByText('Enter your password to confirm.')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Your password'), { target: { value: 'wrong' } });
    fireEvent.click(screen.getByRole('button', { name: 'Turn off' }));
    expect(await screen.findByText('That password is not correct.')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Your password'), { target: { value: 'right' } });
    fireEvent.click(screen.getByRole('button', { name: 'Turn off' }));
    await waitFor(() => expect(screen.getByTestId('mfa-off')).toBeTruthy());
  });

  it('groups secrets in fours', () => {
    expect(groupSecret('ABCDEFGHIJ')).toBe('ABCD EFGH IJ');
  });
});
