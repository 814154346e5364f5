import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { InstanceAlert, InstanceAlerts } from '../api';
import { timeAgo } from '../instanceAlerts';
import { ALL_PERMISSIONS, catalog, mockFetch, renderApp, sessionAs } from './helpers';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const ALERTS = '/api/admin/instance/alerts';

/** An owner of the instance's first organization: they operate the instance. */
const operator = sessionAs('owner', ALL_PERMISSIONS);
/** An administrator without `system:read` (say, of another organization on the instance). */
const tenantAdmin = sessionAs('admin', ALL_PERMISSIONS.filter((p) => p !== 'system:read'));

const now = () => Math.floor(Date.now() / 1000);

const webDown: InstanceAlert = {
  id: 'service-down:web',
  severity: 'critical',
  summary: 'service web is down',
  action: 'run `nexusctl logs web`',
  since: now() - 3 * 3600,
};
const diskFilling: InstanceAlert = {
  id: 'disk',
  severity: 'warning',
  summary: 'the disk is 91% full',
  since: now() - 10 * 60,
};
const certRenewed: InstanceAlert = {
  id: 'cert-renewed',
  severity: 'info',
  summary: 'the certificate was renewed',
  since: now() - 30,
};

function alerts(list: InstanceAlert[], overrides: Partial<InstanceAlerts> = {}): InstanceAlerts {
  return { evaluated_at: now() - 5, alerts: list, stale: false, ...overrides };
}

function setup(session: ReturnType<typeof sessionAs>, reply?: { status: number; body?: unknown }) {
  return mockFetch({
    'GET /api/apps': { status: 200, body: catalog },
    'GET /api/session': { status: 200, body: session },
    ...(reply ? { [`GET ${ALERTS}`]: reply } : {}),
  });
}

/** Lets the alerts request, once sent, come back and render. */
async function settled(calls: { path: string }[]) {
  await waitFor(() => expect(calls.some((c) => c.path === ALERTS)).toBe(true));
  await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('the Hub', () => {
  it('shows the warning and critical alerts to an operator, most severe first', async () => {
    const { calls } = setup(operator, { status: 200, body: alerts([diskFilling, certRenewed, webDown]) });
    renderApp('/');
    const banner = await screen.findByTestId('hub-alerts');
    expect(banner.className).toContain('nx-alert--danger');
    expect(banner.getAttribute('role')).toBe('alert');
    expect(banner.textContent).toContain('2 instance alerts need attention');
    const items = within(banner).getAllByTestId('hub-alert');
    expect(items.map((i) => i.textContent)).toEqual([
      'service web is downrun nexusctl logs web',
      'the disk is 91% full',
    ]);
    expect(within(items[0]!).getByText('nexusctl logs web').tagName).toBe('CODE');
    expect(banner.textContent).not.toContain('the certificate was renewed');
    expect(within(banner).getByRole('link', { name: 'Open Instance health' }).getAttribute('href')).toBe('/admin/health');
    expect(screen.queryByTestId('hub-alerts-stale')).toBeNull();
    // The apps are still there, below.
    expect(await screen.findByTestId('launcher')).toBeTruthy();
    expect(calls.filter((c) => c.path === ALERTS)).toHaveLength(1);
    expect(calls.find((c) => c.path === ALERTS)?.method).toBe('GET');
  });

  it('uses the warning tone when nothing is critical', async () => {
    setup(operator, { status: 200, body: alerts([diskFilling]) });
    renderApp('/');
    const banner = await screen.findByTestId('hub-alerts');
    expect(banner.className).toContain('nx-alert--warning');
    expect(banner.textContent).toContain('1 instance alert needs attention');
  });

  it('asks nothing for a user without system:read', async () => {
    const { calls } = setup(tenantAdmin, { status: 200, body: alerts([webDown]) });
    renderApp('/');
    await screen.findByTestId('launcher');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls.some((c) => c.path === ALERTS)).toBe(false);
    expect(screen.queryByTestId('hub-alerts')).toBeNull();
  });

  it('shows no banner for information only', async () => {
    const { calls } = setup(operator, { status: 200, body: alerts([certRenewed]) });
    renderApp('/');
    await screen.findByTestId('launcher');
    await settled(calls);
    expect(screen.queryByTestId('hub-alerts')).toBeNull();
  });

  it('says when the list is out of date', async () => {
    setup(operator, { status: 200, body: alerts([webDown], { evaluated_at: now() - 12 * 60, stale: true }) });
    renderApp('/');
    const stale = await screen.findByTestId('hub-alerts-stale');
    expect(stale.textContent).toBe('The list was last checked 12 minutes ago and may be out of date.');
  });

  it('shows nothing when the alerts were never evaluated, or cannot be loaded', async () => {
    const never = setup(operator, { status: 200, body: { evaluated_at: null, alerts: [], stale: true } });
    renderApp('/');
    await screen.findByTestId('launcher');
    await settled(never.calls);
    expect(screen.queryByTestId('hub-alerts')).toBeNull();

    cleanup();
    const failing = setup(operator, {
      status: 500,
      body: { error: { code: 'internal', message: 'alerts.json is damaged' } },
    });
    renderApp('/');
    await screen.findByTestId('launcher');
    await settled(failing.calls);
    expect(screen.queryByTestId('hub-alerts')).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
    expect(document.body.textContent).not.toContain('alerts.json is damaged');
  });
});

describe('Instance health in the admin console', () => {
  it('is a section only for holders of system:read', async () => {
    setup(tenantAdmin);
    renderApp('/admin/users');
    const nav = await screen.findByTestId('admin-nav');
    expect(within(nav).queryByRole('link', { name: 'Instance health' })).toBeNull();

    cleanup();
    setup(sessionAs('member', ['system:read']), { status: 200, body: alerts([]) });
    renderApp('/admin');
    await waitFor(() => expect(window.location.pathname).toBe('/admin/health'));
    const labels = within(await screen.findByTestId('admin-nav'))
      .getAllByRole('link')
      .map((a) => a.textContent);
    expect(labels).toEqual(['Instance health']);
  });

  it('lists every alert with its severity, action and age', async () => {
    setup(operator, { status: 200, body: alerts([certRenewed, diskFilling, webDown]) });
    renderApp('/admin/health');
    const table = await screen.findByTestId('instance-alerts');
    const rows = within(table).getAllByTestId('instance-alert');
    expect(rows.map((r) => within(r).getByTestId('alert-severity').textContent)).toEqual(['Critical', 'Warning', 'Info']);
    expect(within(rows[0]!).getByTestId('alert-severity').className).toContain('nx-badge--danger');
    expect(within(rows[1]!).getByTestId('alert-severity').className).toContain('nx-badge--warning');
    expect(rows[0]!.textContent).toContain('service web is down');
    expect(within(rows[0]!).getByText('nexusctl logs web').tagName).toBe('CODE');
    expect(rows[0]!.textContent).toContain('3 hours ago');
    expect(rows[1]!.textContent).toContain('10 minutes ago');
    expect(rows[2]!.textContent).toContain('just now');
    expect(screen.getByTestId('alerts-evaluated').textContent).toBe('Last evaluated just now.');
    expect(screen.queryByTestId('alerts-stale')).toBeNull();
    expect(screen.queryByTestId('alerts-empty')).toBeNull();
    await waitFor(() => expect(document.title).toBe('Instance health · Administration · NEXUS'));
  });

  it('says all is well when there are no alerts, and Refresh asks again', async () => {
    let current = alerts([]);
    const { calls } = mockFetch({
      'GET /api/apps': { status: 200, body: catalog },
      'GET /api/session': { status: 200, body: operator },
      [`GET ${ALERTS}`]: () => ({ status: 200, body: current }),
    });
    renderApp('/admin/health');
    expect((await screen.findByTestId('alerts-empty')).textContent).toContain('No alerts: everything is well');
    expect(screen.queryByTestId('instance-alerts')).toBeNull();

    current = alerts([webDown]);
    fireEvent.click(screen.getByRole('button', { name: 'Refresh' }));
    expect((await screen.findByTestId('instance-alerts')).textContent).toContain('service web is down');
    expect(screen.queryByTestId('alerts-empty')).toBeNull();
    expect(calls.filter((c) => c.path === ALERTS)).toHaveLength(2);
  });

  it('notes when the alerts are stale, or were never evaluated', async () => {
    setup(operator, { status: 200, body: alerts([diskFilling], { evaluated_at: now() - 12 * 60, stale: true }) });
    renderApp('/admin/health');
    const note = await screen.findByTestId('alerts-stale');
    expect(note.textContent).toContain('Alerts are evaluated by nexusctl up every 15 s, or whenever nexusctl alerts runs');
    expect(note.textContent).toContain('last evaluated 12 minutes ago');
    expect(screen.getByTestId('instance-alerts').textContent).toContain('the disk is 91% full');

    cleanup();
    setup(operator, { status: 200, body: { evaluated_at: null, alerts: [], stale: true } });
    renderApp('/admin/health');
    const never = await screen.findByTestId('alerts-stale');
    expect(never.textContent).toContain('The alerts have never been evaluated');
    expect(never.textContent).toContain('Alerts are evaluated by nexusctl up every 15 s');
    // Never evaluated is not "everything is well".
    expect(screen.queryByTestId('alerts-empty')).toBeNull();
  });

  it("shows the server's error", async () => {
    setup(operator, {
      status: 403,
      body: { error: { code: 'auth.forbidden', message: 'this needs the permission `system:read`, which you do not hold' } },
    });
    renderApp('/admin/health');
    const error = await screen.findByTestId('admin-load-error');
    expect(error.textContent).toContain('The instance alerts could not be loaded');
    expect(error.textContent).toContain('which you do not hold');
  });
});

describe('timeAgo', () => {
  it('counts minutes, hours and days', () => {
    expect(timeAgo(1000, 1059)).toBe('just now');
    expect(timeAgo(1000, 1060)).toBe('1 minute ago');
    expect(timeAgo(0, 59 * 60)).toBe('59 minutes ago');
    expect(timeAgo(0, 3600)).toBe('1 hour ago');
    expect(timeAgo(0, 47 * 3600)).toBe('47 hours ago');
    expect(timeAgo(0, 3 * 86400)).toBe('3 days ago');
    // A clock a little ahead of the server's is not "in the future".
    expect(timeAgo(2000, 1990)).toBe('just now');
  });
});
