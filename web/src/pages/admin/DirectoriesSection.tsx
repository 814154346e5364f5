import { useState } from 'react';
import { api, type Directory } from '../../api';
import { Alert, Card, EmptyState } from '../../design';
import { Link } from '../../router';
import { DirectoryDetail, OWNERS_ONLY, syncSummary } from './DirectoryDetail';
import { DirectoryForm } from './DirectoryForm';
import { LoadView, OwnerListHeader, Time, useIsOwner, useLoad, useSelectedId } from './common';

function LastSync({ directory }: { directory: Directory }) {
  return (
    <div className="nx-stack">
      {directory.last_sync_at ? <Time value={directory.last_sync_at} /> : <span className="nx-muted">Not synced yet</span>}
      {directory.last_error ? (
        <Alert tone="danger" title="The last sync failed" data-testid="directory-error">
          {directory.last_error}
        </Alert>
      ) : (
        directory.last_sync && <span className="nx-muted">{syncSummary(directory.last_sync)}</span>
      )}
    </div>
  );
}

function DirectoryTable({ directories, isOwner }: { directories: Directory[]; isOwner: boolean }) {
  if (directories.length === 0) {
    return (
      <EmptyState
        icon="server"
        title="No directories connected"
        description={
          isOwner
            ? 'Connect an LDAP or Active Directory server with Add directory to bring in its users and groups.'
            : 'Once an owner connects an LDAP or Active Directory server, its users and groups come in.'
        }
      />
    );
  }
  return (
    <div className="nx-table-wrap">
      <table className="nx-table" data-testid="directory-list">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Server URL</th>
            <th scope="col">Last sync</th>
          </tr>
        </thead>
        <tbody>
          {directories.map((d) => (
            <tr key={d.id} data-testid="directory">
              <td>
                <Link href={`/admin/directories?id=${encodeURIComponent(d.id)}`}>{d.name}</Link>
              </td>
              <td>
                <code className="nx-break">{d.url}</code>
              </td>
              <td>
                <LastSync directory={d} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function DirectoryList() {
  const isOwner = useIsOwner();
  const { loaded, reload, update } = useLoad('directories', (signal) =>
    api.admin.directories({ signal }).then((r) => r.directories),
  );
  const [adding, setAdding] = useState(false);
  const [added, setAdded] = useState<Directory | null>(null);

  return (
    <div className="nx-stack">
      <OwnerListHeader
        title="Directories"
        addLabel="Add directory"
        isOwner={isOwner}
        adding={adding}
        onAdd={() => {
          setAdded(null);
          setAdding(true);
        }}
        ownersOnly={OWNERS_ONLY}
        ownersOnlyTestId="directories-owner-only"
      >
        LDAP or Active Directory servers whose users and groups NEXUS copies, every 15 minutes. People from a directory
        log in with their password there, and its groups are changed there, not in NEXUS.
      </OwnerListHeader>
      {added && (
        <Alert tone="success" onDismiss={() => setAdded(null)} data-testid="directory-created">
          {added.name} is connected. Its users and groups come in with the next sync, within 15 minutes; open it and
          choose Sync now to bring them in at once.
        </Alert>
      )}
      {adding && (
        <Card
          title="Add a directory"
          description="NEXUS connects and signs in with the bind account before saving, so a mistake shows at once."
        >
          <DirectoryForm
            submitLabel="Add directory"
            onCancel={() => setAdding(false)}
            onSubmit={async (input) => {
              const directory = await api.admin.createDirectory(input);
              update((directories) => [...directories, directory]);
              setAdding(false);
              setAdded(directory);
            }}
          />
        </Card>
      )}
      <LoadView loaded={loaded} reload={reload} what="directories">
        {(directories) => <DirectoryTable directories={directories} isOwner={isOwner} />}
      </LoadView>
    </div>
  );
}

export function DirectoriesSection() {
  const id = useSelectedId();
  return id ? <DirectoryDetail key={id} id={id} /> : <DirectoryList />;
}
