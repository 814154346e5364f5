import { cleanup, fireEvent, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tokenFromHash } from '../pages/ResetPasswordPage';
import { authRequired, catalog, mockFetch, renderApp } from './helpers';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  window.history.replaceState(null, '', '/');
});

describe('password reset', () => {
  it('is linked from the login page and sends a link', async () => {
    const { calls } = mockFetch({
      'GET /api/session': authRequired,
      'GET /api/apps': { status: 200, body: catalog },
      'POST /api/password-reset': { status: 202 },
    });
    renderApp('/login');
    fireEvent.click(await screen.findByRole('link', { name: 'Forgot your password?' }));
    expect(window.location.pathname).toBe('/reset-password');
    fireEvent.click(await screen.findByRole('button', { name: 'Send me a link' }));
    expect(await screen.findByText('Enter your e-mail address.')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('E-mail'), { target: { value: ' ada@example.test ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Send me a link' }));
    expect((await screen.findByTestId('reset-sent')).textContent).toContain('ada@example.test');
    expect(calls.find((c) => c.path === '/api/password-reset')?.body).toEqual({ email: 'ada@example.test' });
  });

  it('shows the server saying that mail is off', async () => {
    mockFetch({
      'GET /api/session': authRequired,
      'GET /api/apps': { status: 200, body: catalog },
      'POST /api/password-reset': {
        status: 503,
        body: { error: { code: 'mail.not_configured', message: 'ask an administrator to reset your password' } },
      },
    });
    renderApp('/reset-password');
    fireEvent.change(await screen.findByLabelText('E-mail'), { target: { value: 'ada@example.test' } });
    fireEvent.click(screen.getByRole('button', { name: 'Send me a link' }));
    expect(await screen.findByText('ask an administrator to reset your password')).toBeTruthy();
  });

  it('sets a new password from the link and takes the token out of the address bar', async () => {
    const { calls } = mockFetch({
      'GET /api/session': authRequired,
      'GET /api/apps': { status: 200, body: catalog },
      'POST /api/password-reset/complete': { status: 204 },
    });
    renderApp('/reset-password#token=abc_DEF-123');
    expect(window.location.hash).toBe('');
    fireEvent.change(await screen.findByLabelText('New password'), { target: { value: 'a fine new passphrase' } });
    fireEvent.change(screen.getByLabelText('Repeat new password'), { target: { value: 'a fine new passphrase!' } });
    fireEvent.click(screen.getByRole('button', { name: 'Set new password' }));
    expect(await screen.findByText('The two passwords do not match.')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Repeat new password'), { target: { value: 'a fine new passphrase' } });
    fireEvent.click(screen.getByRole('button', { name: 'Set new password' }));
    expect(await screen.findByTestId('reset-done')).toBeTruthy();
    expect(calls.find((c) => c.path === '/api/password-reset/complete')?.body).toEqual({
      token: 'abc_DEF-123',
      new_password: 'a fine new passphrase',
    });
  });

  it('offers a new link when the link is spent', async () => {
    mockFetch({
      'GET /api/session': authRequired,
      'GET /api/apps': { status: 200, body: catalog },
      'POST /api/password-reset/complete': {
        status: 400,
        body: { error: { code: 'auth.reset_link_invalid', message: 'This reset link is not valid.' } },
      },
    });
    renderApp('/reset-password#token=used');
    fireEvent.change(await screen.findByLabelText('New password'), { target: { value: 'a fine new passphrase' } });
    fireEvent.change(screen.getByLabelText('Repeat new password'), { target: { value: 'a fine new passphrase' } });
    fireEvent.click(screen.getByRole('button', { name: 'Set new password' }));
    const box = await screen.findByTestId('reset-link-invalid');
    expect(box.textContent).toContain('This reset link is not valid.');
    expect(screen.getByRole('link', { name: 'Ask for a new link' })).toBeTruthy();
  });

  it('reads the token from the fragment only', () => {
    expect(tokenFromHash('#token=abc')).toBe('abc');
    expect(tokenFromHash('')).toBeNull();
    expect(tokenFromHash('#token=')).toBeNull();
  });
});
