import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, isApiError, onUnauthorized, parseApiError, request } from '../api';
import { mockFetch } from './helpers';

afterEach(() => vi.unstubAllGlobals());

describe('parseApiError', () => {
  it('reads code and message from the error envelope', () => {
    const err = parseApiError(
      401,
      JSON.stringify({ error: { code: 'auth.invalid_credentials', message: 'Wrong e-mail or password.' } }),
    );
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toBeInstanceOf(Error);
    expect(isApiError(err)).toBe(true);
    expect(err.status).toBe(401);
    expect(err.code).toBe('auth.invalid_credentials');
    expect(err.message).toBe('Wrong e-mail or password.');
    expect(err.isUnauthenticated).toBe(false);
  });

  it('keeps extra fields of the error object as details', () => {
    const err = parseApiError(
      400,
      JSON.stringify({ error: { code: 'validation.failed', message: 'Bad input', fields: { email: 'required' } } }),
    );
    expect(err.code).toBe('validation.failed');
    expect(err.details).toEqual({ fields: { email: 'required' } });
  });

  it('falls back to a status-derived code for non-JSON bodies', () => {
    const err = parseApiError(502, '<html>Bad Gateway</html>');
    expect(err.code).toBe('http.502');
    expect(err.message).toMatch(/server/i);
  });

  it('treats a bare 401 as auth.required', () => {
    const err = parseApiError(401, '');
    expect(err.code).toBe('auth.required');
    expect(err.isUnauthenticated).toBe(true);
  });

  it('tolerates an envelope with missing fields', () => {
    const err = parseApiError(429, JSON.stringify({ error: {} }));
    expect(err.code).toBe('http.429');
    expect(err.message).toMatch(/too many/i);
  });

  it('ignores JSON that is not an error envelope', () => {
    const err = parseApiError(500, JSON.stringify({ message: 'boom' }));
    expect(err.code).toBe('http.500');
  });
});

describe('request', () => {
  it('sends same-origin credentials and no Content-Type on GET', async () => {
    const { calls } = mockFetch({ 'GET /api/apps': { status: 200, body: { product: { name: 'N', version: '1' }, apps: [] } } });
    const res = await api.apps();
    expect(res.product.name).toBe('N');
    expect(calls[0]?.init.credentials).toBe('same-origin');
    const headers = calls[0]?.init.headers as Record<string, string>;
    expect(headers['Content-Type']).toBeUndefined();
    expect(headers.Accept).toBe('application/json');
  });

  it('sends JSON bodies with Content-Type application/json', async () => {
    const { calls } = mockFetch({
      'POST /api/session/password': { status: 204 },
    });
    await expect(api.changePassword('old-secret', 'new-secret-123')).resolves.toBeUndefined();
    const call = calls[0]!;
    expect(call.method).toBe('POST');
    expect(call.init.credentials).toBe('same-origin');
    expect((call.init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(call.body).toEqual({ current_password: 'old-secret', new_password: 'new-secret-123' });
  });

  it('declares JSON on DELETE too and returns undefined for 204', async () => {
    const { calls } = mockFetch({ 'DELETE /api/session': { status: 204 } });
    await expect(api.logout()).resolves.toBeUndefined();
    expect((calls[0]?.init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(calls[0]?.init.body).toBeUndefined();
  });

  it('rejects with a typed ApiError from the server envelope', async () => {
    mockFetch({
      'POST /api/session': {
        status: 429,
        body: { error: { code: 'auth.throttled', message: 'Too many attempts; wait 30 s.' } },
      },
    });
    const err = await api.login('a@b.c', 'x').catch((e: unknown) => e);
    expect(isApiError(err)).toBe(true);
    expect((err as ApiError).status).toBe(429);
    expect((err as ApiError).code).toBe('auth.throttled');
    expect((err as ApiError).message).toBe('Too many attempts; wait 30 s.');
  });

  it('turns a network failure into network.unreachable', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    }));
    const err = await request('GET', '/api/session').catch((e: unknown) => e);
    expect((err as ApiError).code).toBe('network.unreachable');
    expect((err as ApiError).status).toBe(0);
  });

  it('tells unauthorized listeners about auth.required, but not about bad credentials', async () => {
    mockFetch({
      'GET /api/session': { status: 401, body: { error: { code: 'auth.required', message: 'Log in.' } } },
      'POST /api/session': { status: 401, body: { error: { code: 'auth.invalid_credentials', message: 'No.' } } },
    });
    const seen: string[] = [];
    const off = onUnauthorized((e) => seen.push(e.code));
    await api.session().catch(() => undefined);
    await api.login('a@b.c', 'wrong').catch(() => undefined);
    off();
    await api.session().catch(() => undefined);
    expect(seen).toEqual(['auth.required']);
  });
});

describe('admin endpoints', () => {
  it('uploads a logo as the raw image with its own type and reads the error envelope', async () => {
    const { calls } = mockFetch({
      'PUT /api/admin/org/logo': {
        status: 413,
        body: { error: { code: 'request.too_large', message: 'a logo must be at most 256 KiB' } },
      },
    });
    const image = new Blob([new Uint8Array([0x52, 0x49, 0x46, 0x46])], { type: 'image/webp' });
    const err = await api.admin.uploadLogo(image).catch((e: unknown) => e);
    expect(isApiError(err)).toBe(true);
    expect((err as ApiError).code).toBe('request.too_large');
    expect((err as ApiError).message).toBe('a logo must be at most 256 KiB');
    const headers = calls[0]?.init.headers as Record<string, string>;
    expect(headers['Content-Type']).toBe('image/webp');
    expect(calls[0]?.init.body).toBe(image);
    expect(calls[0]?.init.credentials).toBe('same-origin');
  });

  it('tells unauthorized listeners when an upload finds the session gone', async () => {
    mockFetch({ 'PUT /api/admin/org/logo': { status: 401, body: { error: { code: 'auth.required', message: 'Log in.' } } } });
    const seen: string[] = [];
    const off = onUnauthorized((e) => seen.push(e.code));
    await api.admin.uploadLogo(new Blob(['x'], { type: 'image/png' })).catch(() => undefined);
    off();
    expect(seen).toEqual(['auth.required']);
  });

  it('puts ids in the path safely and grants with PUT, takes back with DELETE', async () => {
    const { calls } = mockFetch({
      'PUT /api/admin/roles/r%2F1/users/u-1': { status: 204 },
      'DELETE /api/admin/roles/r%2F1/groups/g-1': { status: 204 },
    });
    await api.admin.setRoleUser('r/1', 'u-1', true);
    await api.admin.setRoleGroup('r/1', 'g-1', false);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'PUT /api/admin/roles/r%2F1/users/u-1',
      'DELETE /api/admin/roles/r%2F1/groups/g-1',
    ]);
  });
});
