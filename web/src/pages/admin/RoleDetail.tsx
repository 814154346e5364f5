import { useState } from 'react';
import { api, type AdminUser, type Group, type PermissionInfo, type RoleDetail as RoleData } from '../../api';
import { Alert, Button, Card } from '../../design';
import { Link, useNavigate } from '../../router';
import { useCan } from '../../session';
import { RoleForm } from './RoleForm';
import { ActionError, BackLink, ConfirmAction, LoadView, PermissionList, PickAndAdd, errorMessage, useLoad, userName } from './common';

interface Loaded {
  role: RoleData;
  catalog: PermissionInfo[];
  users: AdminUser[];
  groups: Group[];
}

/** Who holds the role: a list with "Take back" and a picker to grant it to more. */
function Grantees({
  title,
  items,
  candidates,
  manage,
  pickLabel,
  onGrant,
  onTakeBack,
  testId,
}: {
  title: string;
  items: { id: string; label: string; href: string }[];
  candidates: { id: string; label: string }[];
  manage: boolean;
  pickLabel: string;
  onGrant: (id: string) => Promise<void>;
  onTakeBack: (id: string) => void;
  testId: string;
}) {
  return (
    <section className="nx-stack" aria-label={title}>
      <h3 className="nx-section-title">{title}</h3>
      {items.length === 0 ? (
        <p className="nx-muted">Nobody yet.</p>
      ) : (
        <ul className="nx-item-list" data-testid={testId}>
          {items.map((item) => (
            <li key={item.id}>
              <Link href={item.href}>{item.label}</Link>
              {manage && (
                <Button variant="ghost" size="small" onClick={() => onTakeBack(item.id)}>
                  Take back<span className="nx-visually-hidden"> from {item.label}</span>
                </Button>
              )}
            </li>
          ))}
        </ul>
      )}
      {manage && <PickAndAdd label={pickLabel} button="Grant" options={candidates} onAdd={onGrant} />}
    </section>
  );
}

export function RoleDetail({ id }: { id: string }) {
  const can = useCan();
  const navigate = useNavigate();
  const [actionError, setActionError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const { loaded, reload, update } = useLoad<Loaded>(`role:${id}`, async (signal) => {
    const [role, catalog, users, groups] = await Promise.all([
      api.admin.role(id, { signal }),
      api.admin.permissions({ signal }).then((c) => c.permissions),
      api.admin.users({ signal }).then((r) => r.users),
      api.admin.groups({ signal }).then((r) => r.groups),
    ]);
    return { role, catalog, users, groups };
  });

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
      <BackLink href="/admin/roles">All roles</BackLink>
      <LoadView loaded={loaded} reload={reload} what="role">
        {({ role, catalog, users, groups }) => {
          const userLabel = (uid: string) => {
            const u = users.find((x) => x.id === uid);
            return u ? userName(u) : uid;
          };
          const groupLabel = (gid: string) => groups.find((g) => g.id === gid)?.name ?? gid;
          return (
            <div className="nx-stack" data-testid="role-detail">
              <ActionError message={actionError} onDismiss={() => setActionError(null)} />
              <Card title={role.name} description={role.description || undefined}>
                {can('roles:manage') ? (
                  <div className="nx-stack">
                    {saved && (
                      <Alert tone="success" onDismiss={() => setSaved(false)}>
                        Saved. Everyone who holds the role has its new permissions at once.
                      </Alert>
                    )}
                    <RoleForm
                      key={role.permissions.join(' ') + role.name + role.description}
                      catalog={catalog}
                      initial={role}
                      submitLabel="Save"
                      onSubmit={async (input) => {
                        setSaved(false);
                        const updated = await api.admin.updateRole(role.id, input);
                        update((d) => ({ ...d, role: { ...d.role, ...updated } }));
                        setSaved(true);
                      }}
                    />
                  </div>
                ) : (
                  <PermissionList permissions={role.permissions} />
                )}
              </Card>

              <Card title="Granted to" description="People hold the role directly, or as members of a group.">
                <div className="nx-stack nx-stack--lg">
                  <Grantees
                    title="People"
                    testId="role-users"
                    manage={can('users:manage')}
                    pickLabel="Grant to a person"
                    items={role.users.map((uid) => ({
                      id: uid,
                      label: userLabel(uid),
                      href: `/admin/users?id=${encodeURIComponent(uid)}`,
                    }))}
                    candidates={users
                      .filter((u) => !role.users.includes(u.id))
                      .map((u) => ({ id: u.id, label: `${userName(u)} (${u.email})` }))}
                    onGrant={(uid) => act(() => api.admin.setRoleUser(role.id, uid, true))}
                    onTakeBack={(uid) => void act(() => api.admin.setRoleUser(role.id, uid, false))}
                  />
                  <Grantees
                    title="Groups"
                    testId="role-groups"
                    manage={can('users:manage')}
                    pickLabel="Grant to a group"
                    items={role.groups.map((gid) => ({
                      id: gid,
                      label: groupLabel(gid),
                      href: `/admin/groups?id=${encodeURIComponent(gid)}`,
                    }))}
                    candidates={groups
                      .filter((g) => !role.groups.includes(g.id))
                      .map((g) => ({ id: g.id, label: g.name }))}
                    onGrant={(gid) => act(() => api.admin.setRoleGroup(role.id, gid, true))}
                    onTakeBack={(gid) => void act(() => api.admin.setRoleGroup(role.id, gid, false))}
                  />
                </div>
              </Card>

              {can('roles:manage') && (
                <div>
                  <ConfirmAction
                    label="Delete role"
                    variant="danger"
                    question={`Delete ${role.name}? Everyone who holds it loses its permissions at once.`}
                    confirmLabel="Delete role"
                    testId="delete-role"
                    onConfirm={async () => {
                      setActionError(null);
                      try {
                        await api.admin.deleteRole(role.id);
                        navigate('/admin/roles');
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
