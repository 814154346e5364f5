import { useState } from 'react';
import { api, type InstanceAlert, type InstanceAlerts } from '../../api';
import { Alert, Button, EmptyState } from '../../design';
import { Ago, CommandText, SEVERITY_LABEL, bySeverity, nowSeconds, timeAgo } from '../../instanceAlerts';
import { LoadView, SectionHeader, errorMessage, useLoad } from './common';

const BADGE: Record<InstanceAlert['severity'], string> = {
  critical: 'nx-badge nx-badge--danger',
  warning: 'nx-badge nx-badge--warning',
  info: 'nx-badge',
};

function AlertTable({ alerts, now }: { alerts: InstanceAlert[]; now: number }) {
  return (
    <div className="nx-table-wrap">
      <table className="nx-table" data-testid="instance-alerts">
        <thead>
          <tr>
            <th scope="col">Severity</th>
            <th scope="col">Alert</th>
            <th scope="col">Since</th>
          </tr>
        </thead>
        <tbody>
          {bySeverity(alerts).map((a) => (
            <tr key={a.id} data-testid="instance-alert">
              <td>
                <span className={BADGE[a.severity] ?? 'nx-badge'} data-testid="alert-severity">
                  {SEVERITY_LABEL[a.severity] ?? a.severity}
                </span>
              </td>
              <td>
                <div className="nx-break">{a.summary}</div>
                {a.action && (
                  <div className="nx-muted nx-small nx-break">
                    <CommandText text={a.action} />
                  </div>
                )}
              </td>
              <td>
                <Ago at={a.since} now={now} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** How recent the list is; a warning when nothing has evaluated it lately (or ever). */
function Evaluated({ data, now }: { data: InstanceAlerts; now: number }) {
  if (data.evaluated_at !== null && !data.stale) {
    return (
      <p className="nx-muted nx-small" data-testid="alerts-evaluated">
        Last evaluated <Ago at={data.evaluated_at} now={now} />.
      </p>
    );
  }
  return (
    <Alert
      tone="warning"
      title={data.evaluated_at === null ? 'The alerts have never been evaluated' : 'This list may be out of date'}
      data-testid="alerts-stale"
    >
      Alerts are evaluated by <code>nexusctl up</code> every 15 s, or whenever <code>nexusctl alerts</code>{' '}
      runs;{' '}
      {data.evaluated_at === null
        ? 'nothing has evaluated them on this instance yet, so problems would not show here.'
        : `last evaluated ${timeAgo(data.evaluated_at, now)}. Check that one of them is running.`}
    </Alert>
  );
}

/** The instance's health alerts, as `nexusctl` last evaluated them: for its operators. */
export function HealthSection() {
  const { loaded, reload, update } = useLoad('instance-alerts', (signal) => api.admin.instanceAlerts({ signal }));
  const [refreshing, setRefreshing] = useState(false);
  const [refreshError, setRefreshError] = useState<string | null>(null);
  const now = nowSeconds();

  const refresh = async () => {
    setRefreshError(null);
    if (loaded.status !== 'ready') {
      reload();
      return;
    }
    setRefreshing(true);
    try {
      const data = await api.admin.instanceAlerts();
      update(() => data);
    } catch (err) {
      setRefreshError(errorMessage(err));
    } finally {
      setRefreshing(false);
    }
  };

  return (
    <div className="nx-stack">
      <SectionHeader title="Instance health">
        <Button
          variant="secondary"
          size="small"
          loading={refreshing}
          disabled={loaded.status === 'loading'}
          onClick={() => void refresh()}
        >
          Refresh
        </Button>
      </SectionHeader>
      <p className="nx-muted">
        What needs an operator's attention on this NEXUS instance: services that are down or restarting, a full disk,
        certificates about to expire, failed or overdue backups, error spikes. It concerns every organization on the
        instance.
      </p>
      {refreshError && (
        <Alert
          tone="danger"
          title="The alerts could not be refreshed"
          onDismiss={() => setRefreshError(null)}
          data-testid="admin-action-error"
        >
          {refreshError}
        </Alert>
      )}
      <LoadView loaded={loaded} reload={reload} what="instance alerts">
        {(data) => (
          <>
            <Evaluated data={data} now={now} />
            {data.alerts.length > 0 ? (
              <AlertTable alerts={data.alerts} now={now} />
            ) : (
              data.evaluated_at !== null && (
                <div data-testid="alerts-empty">
                  <EmptyState
                    icon="success"
                    title="No alerts: everything is well"
                    description="Services, disk, certificates and backups looked fine when the alerts were last evaluated."
                  />
                </div>
              )
            )}
          </>
        )}
      </LoadView>
    </div>
  );
}
