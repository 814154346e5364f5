import { cleanup, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { base64urlToBuffer, bufferToBase64url, creationOptions, credentialToJson, requestOptions } from '../webauthn';
import { authRequired, catalog, mockFetch, renderApp, session } from './helpers';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const bytes = (...b: number[]) => new Uint8Array(b).buffer;

/** A stand-in for the browser's WebAuthn: records the options, answers with fixed bytes. */
function stubWebauthn() {
  const seen: { create?: CredentialCreationOptions; get?: CredentialRequestOptions } = {};
  vi.stubGlobal('PublicKeyCredential', function PublicKeyCredential() {});
  const credential = (response: object) => ({
    id: 'AQID',
    rawId: bytes(1, 2, 3),
    type: 'public-key',
    response,
    getClientExtensionResults: () => ({}),
  });
  Object.defineProperty(navigator, 'credentials', {
    configurable: true,
    value: {
      create: vi.fn(async (o: CredentialCreationOptions) => {
        seen.create = o;
        return credential({ clientDataJSON: bytes(9), attestationObject: bytes(8), getTransports: () => ['internal'] });
      }),
      get: vi.fn(async (o: CredentialRequestOptions) => {
        seen.get = o;
        return credential({ clientDataJSON: bytes(9), authenticatorData: bytes(7), signature: bytes(6), userHandle: bytes(5) });
      }),
    },
  });
  return seen;
}

const ceremony = (publicKey: Record<string, unknown>) => ({ status: 200, body: { ceremony: 'c-1', options: { publicKey } } });

describe('webauthn encoding', () => {
  it('round-trips base64url and decodes the binary option fields', () => {
    const buf = bytes(0, 250, 255, 62, 63);
    expect(bufferToBase64url(buf)).toBe('APr_Pj8');
    expect(new Uint8Array(base64urlToBuffer('APr_Pj8'))).toEqual(new Uint8Array(buf));
    const create = creationOptions({
      publicKey: { challenge: 'AQID', user: { id: 'BAU', name: 'ada', displayName: 'Ada' }, excludeCredentials: [{ id: 'Bg', type: 'public-key' }] },
    });
    expect(new Uint8Array(create.publicKey!.challenge as ArrayBuffer)).toEqual(new Uint8Array([1, 2, 3]));
    expect(new Uint8Array(create.publicKey!.user.id as ArrayBuffer)).toEqual(new Uint8Array([4, 5]));
    expect(new Uint8Array(create.publicKey!.excludeCredentials![0]!.id as ArrayBuffer)).toEqual(new Uint8Array([6]));
    const get = requestOptions({ publicKey: { challenge: 'AQID', allowCredentials: [{ id: 'Bg', type: 'public-key' }] } });
    expect(new Uint8Array(get.publicKey!.allowCredentials![0]!.id as ArrayBuffer)).toEqual(new Uint8Array([6]));
    const json = credentialToJson({
      id: 'AQID',
      rawId: bytes(1, 2, 3),
      type: 'public-key',
      response: { clientDataJSON: bytes(9), authenticatorData: bytes(7), signature: bytes(6), userHandle: null },
      getClientExtensionResults: () => ({}),
    } as unknown as PublicKeyCredential);
    expect(json).toEqual({
      id: 'AQID',
      rawId: 'AQID',
      type: 'public-key',
      response: { clientDataJSON: 'CQ', authenticatorData: 'Bw', signature: 'Bg', userHandle: null },
      extensions: {},
    });
  });
});

describe('passkeys', () => {
  it('signs in with a passkey of the address typed', async () => {
    const seen = stubWebauthn();
    let loggedIn = false;
    const { calls } = mockFetch({
      'GET /api/session': () => (loggedIn ? { status: 200, body: session() } : authRequired),
      'POST /api/session/passkey': ceremony({ challenge: 'AQID', allowCredentials: [{ id: 'AQID', type: 'public-key' }] }),
      'POST /api/session/passkey/finish': () => {
        loggedIn = true;
        return { status: 200, body: session() };
      },
      'GET /api/apps': { status: 200, body: catalog },
    });
    renderApp('/login');
    fireEvent.click(await screen.findByTestId('passkey-login'));
    expect((await screen.findByText(/Enter your e-mail address, then choose the passkey/)).textContent).toBeTruthy();
    fireEvent.change(screen.getByLabelText('E-mail'), { target: { value: 'ada@example.test' } });
    fireEvent.click(screen.getByTestId('passkey-login'));
    expect(await screen.findByTestId('launcher')).toBeTruthy();
    expect(calls.find((c) => c.path === '/api/session/passkey')?.body).toEqual({ email: 'ada@example.test' });
    const finish = calls.find((c) => c.path === '/api/session/passkey/finish')?.body as { ceremony: string; credential: { response: { signature: string } } };
    expect(finish.ceremony).toBe('c-1');
    expect(finish.credential.response.signature).toBe('Bg');
    expect(seen.get?.publicKey?.challenge).toBeInstanceOf(ArrayBuffer);
  });

  it('says so when the address has no passkey', async () => {
    stubWebauthn();
    mockFetch({
      'GET /api/session': authRequired,
      'POST /api/session/passkey': {
        status: 400,
        body: { error: { code: 'auth.no_passkey', message: 'no passkey is set up for this address; sign in with your password' } },
      },
      'GET /api/apps': { status: 200, body: catalog },
    });
    renderApp('/login');
    fireEvent.change(await screen.findByLabelText('E-mail'), { target: { value: 'ada@example.test' } });
    fireEvent.click(screen.getByTestId('passkey-login'));
    expect((await screen.findByTestId('login-error')).textContent).toMatch(/no passkey is set up/);
  });

  it('adds a passkey from the account page and lists it', async () => {
    const seen = stubWebauthn();
    let keys: unknown[] = [];
    const { calls } = mockFetch({
      'GET /api/session': { status: 200, body: session() },
      'GET /api/apps': { status: 200, body: catalog },
      'GET /api/account/mfa': { status: 200, body: { totp: false, recovery_codes_left: 0 } },
      'GET /api/account/passkeys': () => ({ status: 200, body: { passkeys: keys } }),
      'POST /api/account/passkeys': ceremony({ challenge: 'AQID', user: { id: 'BAU', name: 'ada', displayName: 'Ada' } }),
      'POST /api/account/passkeys/finish': () => {
        keys = [{ id: 'k-1', name: 'Laptop', created_at: '2026-11-24T10:00:00Z', last_used_at: null }];
        return { status: 201, body: keys[0] };
      },
    });
    renderApp('/account');
    expect(await screen.findByText('You have no passkeys yet.')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Add a passkey' }));
    expect(await screen.findByText(/Name the passkey/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Passkey name'), { target: { value: 'Laptop' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add a passkey' }));
    expect(await screen.findByTestId('passkey-added')).toBeTruthy();
    await waitFor(() => expect(screen.getByTestId('passkey-list').textContent).toMatch(/Laptop/));
    const finish = calls.find((c) => c.path === '/api/account/passkeys/finish')?.body as { credential: { response: { attestationObject: string; transports: string[] } } };
    expect(finish.credential.response.attestationObject).toBe('CA');
    expect(finish.credential.response.transports).toEqual(['internal']);
    expect(new Uint8Array(seen.create?.publicKey?.user.id as ArrayBuffer)).toEqual(new Uint8Array([4, 5]));
  });
});
