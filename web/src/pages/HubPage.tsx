import { useEffect, useState } from 'react';
import { api, type InstanceAlerts } from '../api';
import { Alert, AppTile, Button, EmptyState, PageHeader, Spinner } from '../design';
import { CommandText, needingAttention, nowSeconds, timeAgo } from '../instanceAlerts';
import { Link, useLocation } from '../router';
import { can, useCatalog, useCurrentSession, useDocumentTitle } from '../session';

function greeting(now = new Date()): string {
  const hour = now.getHours();
  if (hour < 5) return 'Hello';
  if (hour < 12) return 'Good morning';
  if (hour < 18) return 'Good afternoon';
  return 'Good evening';
}

/**
 * The instance's warning and critical alerts, for its operators (`system:read`). Says nothing
 * when there are none, when they were never evaluated, or when they cannot be loaded: the
 * admin console's "Instance health" shows those cases.
 */
function InstanceAlertsBanner() {
  const [data, setData] = useState<InstanceAlerts | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    api.admin.instanceAlerts({ signal: controller.signal }).then(
      (alerts) => {
        if (!controller.signal.aborted) setData(alerts);
      },
      () => {
        // Not the start page's business: the admin console shows the error.
      },
    );
    return () => controller.abort();
  }, []);

  if (!data || data.evaluated_at === null) return null;
  const alerts = needingAttention(data.alerts);
  if (alerts.length === 0) return null;
  const critical = alerts.some((a) => a.severity === 'critical');
  const n = alerts.length;

  return (
    <Alert
      tone={critical ? 'danger' : 'warning'}
      title={`${n} instance ${n === 1 ? 'alert needs' : 'alerts need'} attention`}
      data-testid="hub-alerts"
    >
      <ul className="nx-plain-list">
        {alerts.map((a) => (
          <li key={a.id} data-testid="hub-alert">
            <div>{a.summary}</div>
            {a.action && (
              <div className="nx-small">
                <CommandText text={a.action} />
              </div>
            )}
          </li>
        ))}
      </ul>
      {data.stale && (
        <p className="nx-small" data-testid="hub-alerts-stale">
          The list was last checked {timeAgo(data.evaluated_at, nowSeconds())} and may be out of date.
        </p>
      )}
      <p className="nx-alert__actions">
        <Link href="/admin/health">Open Instance health</Link>
      </p>
    </Alert>
  );
}

export function HubPage() {
  const session = useCurrentSession();
  const { state, reload } = useCatalog();
  const location = useLocation();
  useDocumentTitle('Hub');

  const name = session.user.display_name || session.user.email;

  return (
    <div className="nx-stack nx-stack--lg">
      <PageHeader
        title={
          <span data-testid="greeting">
            {greeting()}, {name}
          </span>
        }
        subtitle={`Everything in ${session.user.org.name}, in one place.`}
      />

      {session.must_change_password && (
        <Alert tone="warning" title="Choose your own password">
          You are using a one-time password. <Link href="/account">Change it now</Link> to keep your
          account safe.
        </Alert>
      )}

      {can(session, 'system:read') && <InstanceAlertsBanner />}

      <section aria-labelledby="apps-heading" className="nx-stack">
        <h2 id="apps-heading" className="nx-section-title">
          Apps
        </h2>
        {state.status === 'loading' && (
          <div className="nx-inline-loading">
            <Spinner label="Loading apps" />
          </div>
        )}
        {state.status === 'error' && (
          <Alert tone="danger" title="The apps could not be loaded">
            <p>{state.error.message}</p>
            <p className="nx-alert__actions">
              <Button variant="secondary" size="small" onClick={reload}>
                Try again
              </Button>
            </p>
          </Alert>
        )}
        {state.status === 'ready' && state.data.apps.length === 0 && (
          <EmptyState
            icon="grid"
            title="No apps yet"
            description="Your administrator has not enabled any apps for your organization."
          />
        )}
        {state.status === 'ready' && state.data.apps.length > 0 && (
          <ul className="nx-tile-grid" data-testid="launcher" aria-label="Apps">
            {state.data.apps.map((app) => (
              <li key={app.id}>
                <AppTile
                  id={app.id}
                  name={app.name}
                  description={app.description}
                  href={app.path}
                  icon={app.icon}
                  current={app.path === location.pathname}
                />
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
