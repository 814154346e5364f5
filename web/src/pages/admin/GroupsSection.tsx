import { useState } from 'react';
import { api, type Group } from '../../api';
import { Alert, Button, Card, EmptyState } from '../../design';
import { Link } from '../../router';
import { useCan } from '../../session';
import { GroupDetail } from './GroupDetail';
import { GroupForm } from './GroupForm';
import { DirectoryBadge, LoadView, SectionHeader, useLoad, useSelectedId } from './common';

function GroupTable({ groups }: { groups: Group[] }) {
  if (groups.length === 0) {
    return (
      <EmptyState
        icon="users"
        title="No groups yet"
        description="Groups gather people, so that you can grant a role to all of them at once."
      />
    );
  }
  return (
    <div className="nx-table-wrap">
      <table className="nx-table" data-testid="group-table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Description</th>
            <th scope="col">Members</th>
          </tr>
        </thead>
        <tbody>
          {groups.map((g) => (
            <tr key={g.id}>
              <td>
                <Link href={`/admin/groups?id=${encodeURIComponent(g.id)}`}>{g.name}</Link>{' '}
                <DirectoryBadge directory={g.directory} />
              </td>
              <td>{g.description || <span className="nx-muted">—</span>}</td>
              <td>{g.member_count}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function GroupList() {
  const can = useCan();
  const { loaded, reload, update } = useLoad('groups', (signal) => api.admin.groups({ signal }).then((r) => r.groups));
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<string | null>(null);

  return (
    <div className="nx-stack">
      <SectionHeader title="Groups">
        {can('users:manage') && !creating && (
          <Button
            size="small"
            onClick={() => {
              setCreated(null);
              setCreating(true);
            }}
          >
            New group
          </Button>
        )}
      </SectionHeader>
      {created && (
        <Alert tone="success" onDismiss={() => setCreated(null)}>
          The group {created} has been created. Open it to add members.
        </Alert>
      )}
      {creating && (
        <Card title="New group">
          <GroupForm
            submitLabel="Create group"
            onCancel={() => setCreating(false)}
            onSubmit={async (name, description) => {
              const group = await api.admin.createGroup(name, description);
              update((groups) => [...groups, group]);
              setCreating(false);
              setCreated(group.name);
            }}
          />
        </Card>
      )}
      <LoadView loaded={loaded} reload={reload} what="groups">
        {(groups) => <GroupTable groups={groups} />}
      </LoadView>
    </div>
  );
}

export function GroupsSection() {
  const id = useSelectedId();
  return id ? <GroupDetail key={id} id={id} /> : <GroupList />;
}
