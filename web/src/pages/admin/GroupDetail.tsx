import { useState } from 'react';
import { api, type AdminUser, type CustomRole, type GroupDetail as GroupData } from '../../api';
import { Alert, Button, Card } from '../../design';
import { Link, useNavigate } from '../../router';
import { useCan } from '../../session';
import { GroupForm } from './GroupForm';
import {
  ActionError,
  BackLink,
  ConfirmAction,
  DirectoryBadge,
  LoadView,
  PickAndAdd,
  errorMessage,
  useLoad,
  userName,
} from './common';

interface Loaded {
  group: GroupData;
  users: AdminUser[];
  roles: CustomRole[];
  /** Ids of the custom roles granted to this group. */
  granted: string[];
}

async function loadGroup(id: string, signal: AbortSignal): Promise<Loaded> {
  const [group, users, roles] = await Promise.all([
    api.admin.group(id, { signal }),
    api.admin.users({ signal }).then((r) => r.users),
    api.admin.roles({ signal }).then((r) => r.roles),
  ]);
  // Grants are recorded on the role: ask each custom role whether it names this group.
  const details = await Promise.all(roles.map((r) => api.admin.role(r.id, { signal })));
  const granted = details.filter((d) => d.groups.includes(id)).map((d) => d.id);
  return { group, users, roles, granted };
}

export function GroupDetail({ id }: { id: string }) {
  const can = useCan();
  const manage = can('users:manage');
  const navigate = useNavigate();
  const [actionError, setActionError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const { loaded, reload } = useLoad(`group:${id}`, (signal) => loadGroup(id, signal));

  /** Runs a change, then reloads; a failure shows the server's message. */
  const act = async (change: () => Promise<void>) => {
    setActionError(null);
    try {
      await change();
      reload();
    } catch (err) {
      setActionError(errorMessage(err));
    }
  };

  return (
    <div className="nx-stack">
      <BackLink href="/admin/groups">All groups</BackLink>
      <LoadView loaded={loaded} reload={reload} what="group">
        {({ group, users, roles, granted }) => {
          const memberIds = new Set(group.members.map((m) => m.id));
          const grantedRoles = roles.filter((r) => granted.includes(r.id));
          // A directory's group changes only with its syncs (the server refuses anything else);
          // granting it custom roles is still done here.
          const editable = manage && !group.directory;
          return (
            <div className="nx-stack" data-testid="group-detail">
              <ActionError message={actionError} onDismiss={() => setActionError(null)} />
              <Card title={group.name} description={group.description || undefined}>
                {editable ? (
                  <div className="nx-stack">
                    {saved && (
                      <Alert tone="success" onDismiss={() => setSaved(false)}>
                        The group&apos;s name and description have been saved.
                      </Alert>
                    )}
                    <GroupForm
                      key={`${group.name}\n${group.description}`}
                      initial={group}
                      submitLabel="Save"
                      onSubmit={async (name, description) => {
                        setSaved(false);
                        await api.admin.updateGroup(group.id, name, description);
                        setSaved(true);
                        reload();
                      }}
                    />
                  </div>
                ) : (
                  <div className="nx-stack">
                    {group.directory && (
                      <>
                        <DirectoryBadge directory={group.directory} />
                        <Alert tone="info" data-testid="directory-managed">
                          Managed in the directory {group.directory.name}; changes come with the next sync.
                        </Alert>
                      </>
                    )}
                    <p className="nx-muted">{group.member_count} members.</p>
                  </div>
                )}
              </Card>

              <Card title={`Members (${group.members.length})`}>
                <div className="nx-stack">
                  {group.members.length === 0 ? (
                    <p className="nx-muted">Nobody is in this group yet.</p>
                  ) : (
                    <ul className="nx-item-list" data-testid="group-members">
                      {group.members.map((m) => (
                        <li key={m.id}>
                          <span>
                            <Link href={`/admin/users?id=${encodeURIComponent(m.id)}`}>{userName(m)}</Link>{' '}
                            <span className="nx-muted">{m.email}</span>
                          </span>
                          {editable && (
                            <Button
                              variant="ghost"
                              size="small"
                              onClick={() => void act(() => api.admin.setGroupMember(group.id, m.id, false))}
                            >
                              Remove<span className="nx-visually-hidden"> {userName(m)}</span>
                            </Button>
                          )}
                        </li>
                      ))}
                    </ul>
                  )}
                  {editable && (
                    <PickAndAdd
                      label="Add a member"
                      button="Add"
                      options={users
                        .filter((u) => !memberIds.has(u.id))
                        .map((u) => ({ id: u.id, label: `${userName(u)} (${u.email})` }))}
                      onAdd={(userId) => act(() => api.admin.setGroupMember(group.id, userId, true))}
                    />
                  )}
                </div>
              </Card>

              <Card title="Roles" description="Every member holds the permissions of the custom roles granted to the group.">
                <div className="nx-stack">
                  {grantedRoles.length === 0 ? (
                    <p className="nx-muted">
                      {roles.length === 0 ? (
                        <>
                          No custom roles exist yet; define one under <Link href="/admin/roles">Roles</Link>.
                        </>
                      ) : (
                        'No custom role is granted to this group.'
                      )}
                    </p>
                  ) : (
                    <ul className="nx-item-list" data-testid="group-roles">
                      {grantedRoles.map((r) => (
                        <li key={r.id}>
                          <Link href={`/admin/roles?id=${encodeURIComponent(r.id)}`}>{r.name}</Link>
                          {manage && (
                            <Button
                              variant="ghost"
                              size="small"
                              onClick={() => void act(() => api.admin.setRoleGroup(r.id, group.id, false))}
                            >
                              Take back<span className="nx-visually-hidden"> {r.name}</span>
                            </Button>
                          )}
                        </li>
                      ))}
                    </ul>
                  )}
                  {manage && (
                    <PickAndAdd
                      label="Grant a role"
                      button="Grant"
                      options={roles.filter((r) => !granted.includes(r.id)).map((r) => ({ id: r.id, label: r.name }))}
                      onAdd={(roleId) => act(() => api.admin.setRoleGroup(roleId, group.id, true))}
                    />
                  )}
                </div>
              </Card>

              {editable && (
                <div>
                  <ConfirmAction
                    label="Delete group"
                    variant="danger"
                    question={`Delete ${group.name}? Its members lose the roles granted through it; the people themselves stay.`}
                    confirmLabel="Delete group"
                    testId="delete-group"
                    onConfirm={async () => {
                      setActionError(null);
                      try {
                        await api.admin.deleteGroup(group.id);
                        navigate('/admin/groups');
                      } catch (err) {
                        setActionError(errorMessage(err));
                      }
                    }}
                  />
                </div>
              )}
            </div>
          );
        }}
      </LoadView>
    </div>
  );
}
