import { useState, type ReactNode } from 'react';
import { api, type Directory, type SyncReport } from '../../api';
import { Alert, Button, Card } from '../../design';
import { useNavigate } from '../../router';
import { DirectoryForm } from './DirectoryForm';
import { ActionError, BackLink, ConfirmAction, LoadView, Time, errorMessage, useIsOwner, useLoad } from './common';

/** Said instead of the add, save and remove buttons to everyone but owners. */
export const OWNERS_ONLY = 'Only an owner can connect, change or remove directories.';

/** Skipped entries listed at most; a first sync can skip many. */
const MAX_SKIPPED = 50;

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "2 users added, 1 updated, 0 disabled; 1 group added, 0 updated, 0 deleted". */
export function syncSummary(report: SyncReport): string {
  const users = `${count(report.users_created, 'user')} added, ${report.users_updated} updated, ${report.users_disabled} disabled`;
  const groups = `${count(report.groups_created, 'group')} added, ${report.groups_updated} updated, ${report.groups_deleted} deleted`;
  const skipped = report.skipped.length ? `; ${count(report.skipped.length, 'entry', 'entries')} skipped` : '';
  return `${users}; ${groups}${skipped}`;
}

/** A sync's counts, and the entries it left out with the reason for each. */
export function SyncReportView({ report }: { report: SyncReport }) {
  const shown = report.skipped.slice(0, MAX_SKIPPED);
  return (
    <div className="nx-stack">
      <p>{syncSummary(report)}.</p>
      {shown.length > 0 && (
        <>
          <p>Skipped, and why:</p>
          <ul className="nx-item-list" data-testid="sync-skipped">
            {shown.map((s, i) => (
              <li key={`${i}:${s.entry}`}>
                <code className="nx-break">{s.entry}</code>
                <span className="nx-muted">{s.reason}</span>
              </li>
            ))}
          </ul>
          {report.skipped.length > shown.length && (
            <p className="nx-muted">…and {count(report.skipped.length - shown.length, 'more entry', 'more entries')}.</p>
          )}
        </>
      )}
    </div>
  );
}

/** A directory's settings as they are, for those who may not change them. */
function SettingsView({ directory }: { directory: Directory }) {
  const rows: [string, ReactNode][] = [
    ['Server URL', <code className="nx-break">{directory.url}</code>],
    ['StartTLS', directory.starttls ? 'Used' : 'Not used'],
    ['Bind DN', <code className="nx-break">{directory.bind_dn}</code>],
    ['Bind password', <span className="nx-muted">Kept by NEXUS, never shown</span>],
    ['Users are under', <code className="nx-break">{directory.user_base}</code>],
    ['User filter', <code className="nx-break">{directory.user_filter}</code>],
    ['E-mail attribute', <code>{directory.email_attribute}</code>],
    ['Name attribute', <code>{directory.name_attribute}</code>],
    [
      'Groups are under',
      directory.group_base ? (
        <code className="nx-break">{directory.group_base}</code>
      ) : (
        <span className="nx-muted">None: groups are not synced</span>
      ),
    ],
    ['Group filter', <code className="nx-break">{directory.group_filter}</code>],
    ['Member attribute', <code>{directory.member_attribute}</code>],
  ];
  return (
    <dl className="nx-deflist" data-testid="directory-settings">
      {rows.map(([term, value]) => (
        <div key={term}>
          <dt>{term}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function loadDirectory(id: string, signal: AbortSignal): Promise<Directory> {
  return api.admin.directory(id, { signal });
}

function Sync({ directory, onSynced }: { directory: Directory; onSynced: () => void }) {
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState<SyncReport | null>(null);
  const [error, setError] = useState<string | null>(null);

  const sync = async () => {
    setBusy(true);
    setReport(null);
    setError(null);
    try {
      setReport(await api.admin.syncDirectory(directory.id));
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
      onSynced();
    }
  };

  return (
    <Card title="Sync" description="NEXUS syncs on its own every 15 minutes; Sync now does it at once.">
      <div className="nx-stack">
        {report ? (
          <Alert tone="success" title="Sync finished" onDismiss={() => setReport(null)} data-testid="sync-report">
            <SyncReportView report={report} />
          </Alert>
        ) : error ? (
          <Alert tone="danger" title="The sync did not work" onDismiss={() => setError(null)} data-testid="sync-error">
            {error}
          </Alert>
        ) : directory.last_error ? (
          <Alert tone="danger" title="The last sync failed" data-testid="directory-error">
            <p>{directory.last_error}</p>
            {directory.last_sync_at && (
              <p>
                Tried <Time value={directory.last_sync_at} />.
              </p>
            )}
          </Alert>
        ) : directory.last_sync_at ? (
          <div className="nx-stack">
            <p className="nx-muted">
              Last synced <Time value={directory.last_sync_at} />.
            </p>
            {directory.last_sync && <SyncReportView report={directory.last_sync} />}
          </div>
        ) : (
          <p className="nx-muted">Not synced yet.</p>
        )}
        <div>
          <Button variant="secondary" loading={busy} onClick={() => void sync()}>
            Sync now
          </Button>
        </div>
      </div>
    </Card>
  );
}

export function DirectoryDetail({ id }: { id: string }) {
  const isOwner = useIsOwner();
  const navigate = useNavigate();
  const [actionError, setActionError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const { loaded, reload, update } = useLoad(`directory:${id}`, (signal) => loadDirectory(id, signal));

  return (
    <div className="nx-stack">
      <BackLink href="/admin/directories">All directories</BackLink>
      <LoadView loaded={loaded} reload={reload} what="directory">
        {(directory) => (
          <div className="nx-stack" data-testid="directory-detail">
            <ActionError message={actionError} onDismiss={() => setActionError(null)} />
            <Card title={directory.name} description={<span className="nx-break">{directory.url}</span>}>
              <dl className="nx-deflist">
                <div>
                  <dt>Users are under</dt>
                  <dd>
                    <code className="nx-break">{directory.user_base}</code>
                  </dd>
                </div>
                <div>
                  <dt>Groups are under</dt>
                  <dd>
                    {directory.group_base ? (
                      <code className="nx-break">{directory.group_base}</code>
                    ) : (
                      <span className="nx-muted">None: groups are not synced</span>
                    )}
                  </dd>
                </div>
                <div>
                  <dt>Added</dt>
                  <dd>
                    <Time value={directory.created_at} />
                  </dd>
                </div>
              </dl>
            </Card>

            <Sync directory={directory} onSynced={reload} />

            {isOwner ? (
              <Card
                title="Settings"
                description="Saving connects and signs in to the directory first; if that fails, nothing changes."
              >
                <div className="nx-stack">
                  {saved && (
                    <Alert tone="success" onDismiss={() => setSaved(false)} data-testid="directory-saved">
                      Saved. The next sync uses the new settings.
                    </Alert>
                  )}
                  <DirectoryForm
                    key={JSON.stringify({ ...directory, last_sync_at: null, last_sync: null, last_error: null })}
                    initial={directory}
                    submitLabel="Save changes"
                    onSubmit={async ({ bind_password, ...settings }) => {
                      setSaved(false);
                      const updated = await api.admin.updateDirectory(
                        directory.id,
                        bind_password ? { ...settings, bind_password } : settings,
                      );
                      update(() => updated);
                      setSaved(true);
                    }}
                  />
                </div>
              </Card>
            ) : (
              <Card title="Settings">
                <SettingsView directory={directory} />
              </Card>
            )}

            {isOwner ? (
              <div>
                <ConfirmAction
                  label="Remove directory"
                  variant="danger"
                  question={`Remove ${directory.name}? The users it brought in are disabled: they can no longer log in with their directory password, though an administrator can reset a user's password to keep them. The groups it brought in are deleted.`}
                  confirmLabel="Remove directory"
                  testId="remove-directory"
                  onConfirm={async () => {
                    setActionError(null);
                    try {
                      await api.admin.deleteDirectory(directory.id);
                      navigate('/admin/directories');
                    } catch (err) {
                      setActionError(errorMessage(err));
                    }
                  }}
                />
              </div>
            ) : (
              <p className="nx-muted" data-testid="directories-owner-only">
                {OWNERS_ONLY}
              </p>
            )}
          </div>
        )}
      </LoadView>
    </div>
  );
}
