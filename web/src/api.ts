// Typed client for the NEXUS HTTP API (served by nexusd on the same origin).
//
// Every request is same-origin with cookies; JSON bodies carry
// `Content-Type: application/json`, which the server requires on
// state-changing requests as its CSRF defence. Failures become `ApiError`,
// parsed from the server's `{"error":{"code":"...","message":"..."}}` shape.

// ---- Wire types ------------------------------------------------------------

export interface Product {
  name: string;
  version: string;
}

export interface AppInfo {
  id: string;
  name: string;
  description: string;
  path: string;
  icon: string;
}

export interface AppsResponse {
  product: Product;
  apps: AppInfo[];
}

export interface Org {
  id: string;
  slug: string;
  name: string;
}

export interface User {
  id: string;
  email: string;
  display_name: string;
  role: string;
  org: Org;
}

export interface Session {
  user: User;
  must_change_password: boolean;
}

/** `POST /api/session` for an account with a second factor: no session until a code follows. */
export interface MfaChallenge {
  mfa: {
    challenge: string;
    /** `totp`, `recovery_code`. */
    methods: string[];
    /** Seconds the challenge stays valid. */
    expires_in: number;
  };
}

export function isMfaChallenge(value: Session | MfaChallenge): value is MfaChallenge {
  return (value as MfaChallenge).mfa !== undefined;
}

export interface MfaStatus {
  totp: boolean;
  recovery_codes_left: number;
}

export interface TotpEnrolment {
  /** Base32, for typing into the app. */
  secret: string;
  /** `otpauth://totp/…`, for the QR code. */
  otpauth_url: string;
}

export interface RecoveryCodes {
  recovery_codes: string[];
}

/** Stable error codes the front-end reacts to; the server may send others. */
export type KnownErrorCode =
  | 'auth.required'
  | 'auth.invalid_credentials'
  | 'auth.throttled'
  | 'auth.weak_password'
  | 'auth.invalid_code'
  | 'auth.mfa_challenge_invalid'
  | 'auth.reset_link_invalid'
  | 'mail.not_configured'
  | 'validation.failed'
  | 'network.unreachable'
  | 'http.unexpected_response';

export type ErrorCode = KnownErrorCode | (string & {});

// ---- Errors ----------------------------------------------------------------

export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** HTTP status, or 0 when the server could not be reached. */
  readonly status: number;
  /** Stable machine-readable code, e.g. `auth.invalid_credentials`. */
  readonly code: ErrorCode;
  /** Anything else the server put in the error object (e.g. field details). */
  readonly details: Record<string, unknown>;

  constructor(status: number, code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** True when the caller has no valid session and must log in. */
  get isUnauthenticated(): boolean {
    return this.status === 401 && this.code === 'auth.required';
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

function fallbackMessage(status: number): string {
  if (status === 401) return 'You need to log in again.';
  if (status === 403) return 'You are not allowed to do that.';
  if (status === 404) return 'That was not found.';
  if (status === 429) return 'Too many attempts. Wait a moment and try again.';
  if (status >= 500) return 'The server ran into a problem. Try again in a moment.';
  return `The server answered with an unexpected status (${status}).`;
}

/**
 * Turns a failed HTTP response's status and body text into an ApiError.
 * Accepts the canonical `{"error":{"code","message"}}` envelope and degrades
 * gracefully for anything else (HTML error pages, empty bodies, bad JSON).
 */
export function parseApiError(status: number, bodyText: string): ApiError {
  let parsed: unknown;
  try {
    parsed = bodyText ? JSON.parse(bodyText) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed && typeof parsed === 'object' && 'error' in parsed) {
    const env = (parsed as { error: unknown }).error;
    if (env && typeof env === 'object') {
      const { code, message, ...rest } = env as Record<string, unknown>;
      const codeStr = typeof code === 'string' && code ? code : `http.${status}`;
      const msg = typeof message === 'string' && message ? message : fallbackMessage(status);
      return new ApiError(status, codeStr, msg, rest);
    }
  }
  const code = status === 401 ? 'auth.required' : `http.${status}`;
  return new ApiError(status, code, fallbackMessage(status));
}

// ---- Transport -------------------------------------------------------------

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions {
  signal?: AbortSignal;
}

/** Listeners told whenever any request comes back 401 (the session ended). */
type UnauthorizedListener = (err: ApiError) => void;
const unauthorizedListeners = new Set<UnauthorizedListener>();

export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export async function request<T>(
  method: Method,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const init: RequestInit = {
    method,
    headers,
    credentials: 'same-origin',
    signal: options.signal,
  };
  if (method !== 'GET') {
    // State-changing requests always declare JSON, with or without a body:
    // the server rejects them otherwise (CSRF defence).
    headers['Content-Type'] = 'application/json';
    if (body !== undefined) init.body = JSON.stringify(body);
  }

  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(
      0,
      'network.unreachable',
      'Could not reach the server. Check your connection and try again.',
    );
  }

  if (!res.ok) {
    const text = await res.text().catch(() => '');
    const err = parseApiError(res.status, text);
    if (res.status === 401 && err.code === 'auth.required') {
      for (const listener of unauthorizedListeners) listener(err);
    }
    throw err;
  }

  if (res.status === 204 || res.status === 205) return undefined as T;
  const text = await res.text();
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(
      res.status,
      'http.unexpected_response',
      'The server sent a response the app could not read.',
    );
  }
}

// ---- Endpoints -------------------------------------------------------------

export const api = {
  /** The app catalogue; public, no login needed. */
  apps(options?: RequestOptions): Promise<AppsResponse> {
    return request<AppsResponse>('GET', '/api/apps', undefined, options);
  },
  /** The current session; rejects with `auth.required` (401) when logged out. */
  session(options?: RequestOptions): Promise<Session> {
    return request<Session>('GET', '/api/session', undefined, options);
  },
  /** The password step: a session, or a challenge when the account has a second factor. */
  login(email: string, password: string): Promise<Session | MfaChallenge> {
    return request<Session | MfaChallenge>('POST', '/api/session', { email, password });
  },
  /** The second step: an authenticator code or a recovery code. */
  loginSecondFactor(challenge: string, code: string): Promise<Session> {
    return request<Session>('POST', '/api/session/mfa', { challenge, code });
  },
  /** Sends a reset link if the address has an account (202 either way). */
  requestPasswordReset(email: string): Promise<void> {
    return request<void>('POST', '/api/password-reset', { email });
  },
  completePasswordReset(token: string, newPassword: string): Promise<void> {
    return request<void>('POST', '/api/password-reset/complete', { token, new_password: newPassword });
  },
  mfaStatus(options?: RequestOptions): Promise<MfaStatus> {
    return request<MfaStatus>('GET', '/api/account/mfa', undefined, options);
  },
  beginTotp(): Promise<TotpEnrolment> {
    return request<TotpEnrolment>('POST', '/api/account/mfa/totp', {});
  },
  confirmTotp(code: string): Promise<RecoveryCodes> {
    return request<RecoveryCodes>('POST', '/api/account/mfa/totp/confirm', { code });
  },
  removeTotp(password: string): Promise<void> {
    return request<void>('POST', '/api/account/mfa/totp/remove', { password });
  },
  newRecoveryCodes(password: string): Promise<RecoveryCodes> {
    return request<RecoveryCodes>('POST', '/api/account/mfa/recovery-codes', { password });
  },
  logout(): Promise<void> {
    return request<void>('DELETE', '/api/session');
  },
  changePassword(currentPassword: string, newPassword: string): Promise<void> {
    return request<void>('POST', '/api/session/password', {
      current_password: currentPassword,
      new_password: newPassword,
    });
  },
};
