// Test helpers: a scripted fetch and a renderer for the whole app.
import { render } from '@testing-library/react';
import { vi } from 'vitest';
import { App } from '../App';
import type { AppsResponse, Session } from '../api';
import { Router } from '../router';
import { CatalogProvider, SessionProvider } from '../session';

export interface RecordedCall {
  method: string;
  path: string;
  init: RequestInit;
  body: unknown;
}

type Reply = { status: number; body?: unknown } | ((call: RecordedCall) => { status: number; body?: unknown });

/** Replaces global fetch with a table of `"METHOD /path"` → reply; records every call. */
export function mockFetch(table: Record<string, Reply>) {
  const calls: RecordedCall[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const method = (init.method ?? 'GET').toUpperCase();
    const path = typeof input === 'string' ? input : input instanceof URL ? input.pathname : input.url;
    const body = typeof init.body === 'string' ? JSON.parse(init.body) : undefined;
    const call = { method, path, init, body };
    calls.push(call);
    const entry = table[`${method} ${path}`];
    if (!entry) {
      return new Response(JSON.stringify({ error: { code: 'test.unrouted', message: `${method} ${path}` } }), {
        status: 404,
        headers: { 'Content-Type': 'application/json' },
      });
    }
    const reply = typeof entry === 'function' ? entry(call) : entry;
    if (reply.status === 204 || reply.body === undefined) return new Response(null, { status: reply.status });
    return new Response(JSON.stringify(reply.body), {
      status: reply.status,
      headers: { 'Content-Type': 'application/json' },
    });
  });
  vi.stubGlobal('fetch', fn);
  return { fn, calls };
}

export const catalog: AppsResponse = {
  product: { name: 'NEXUS', version: '0.1.0' },
  apps: [
    { id: 'hub', name: 'Hub', description: 'Your start page: every app in one place', path: '/', icon: 'grid' },
    { id: 'identity', name: 'Account', description: 'Your profile, password and sessions', path: '/account', icon: 'user' },
  ],
};

/** Everything an owner or administrator of the instance's first organization holds (in the
 *  others, `system:read` is left out). */
export const ALL_PERMISSIONS = [
  'users:read',
  'users:manage',
  'roles:manage',
  'org:manage',
  'audit:read',
  'clients:manage',
  'system:read',
];

export function session(overrides: Partial<Session> = {}): Session {
  return {
    user: {
      id: 'u-1',
      email: 'ada@example.test',
      display_name: 'Ada Lovelace',
      role: 'admin',
      org: { id: 'o-1', slug: 'acme', name: 'Acme Ltd', brand_color: '', has_logo: false },
      permissions: [...ALL_PERMISSIONS],
    },
    must_change_password: false,
    ...overrides,
  };
}

/** A session for a user with `role` and exactly `permissions`, optionally with org branding. */
export function sessionAs(role: string, permissions: string[], org: Partial<Session['user']['org']> = {}): Session {
  const base = session();
  return { ...base, user: { ...base.user, role, permissions, org: { ...base.user.org, ...org } } };
}

export const authRequired = {
  status: 401,
  body: { error: { code: 'auth.required', message: 'Log in to continue.' } },
};

/** Renders the full app at `path`, as main.tsx does. */
export function renderApp(path: string) {
  window.history.replaceState(null, '', path);
  return render(
    <Router>
      <CatalogProvider>
        <SessionProvider>
          <App />
        </SessionProvider>
      </CatalogProvider>
    </Router>,
  );
}

/** Stands in for the browser's location just before a click that leaves the app
 *  (jsdom's own cannot be spied on); undo with `vi.unstubAllGlobals()`. */
export function stubAssign() {
  const assign = vi.fn();
  vi.stubGlobal('location', {
    href: window.location.href,
    origin: window.location.origin,
    pathname: window.location.pathname,
    search: window.location.search,
    hash: window.location.hash,
    assign,
    replace: vi.fn(),
  });
  return assign;
}

