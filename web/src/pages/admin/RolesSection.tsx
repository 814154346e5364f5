import { useState } from 'react';
import { api, type CustomRole, type PermissionCatalog } from '../../api';
import { Alert, Button, Card, EmptyState } from '../../design';
import { Link } from '../../router';
import { useCan } from '../../session';
import { roleLabel } from '../AccountPage';
import { RoleDetail } from './RoleDetail';
import { RoleForm } from './RoleForm';
import { LoadView, PermissionList, SectionHeader, useLoad, useSelectedId } from './common';

interface Loaded {
  catalog: PermissionCatalog;
  roles: CustomRole[];
}

function CustomRoleTable({ roles }: { roles: CustomRole[] }) {
  if (roles.length === 0) {
    return (
      <EmptyState
        icon="shield"
        title="No custom roles yet"
        description="A custom role bundles permissions, such as reading the audit log, to grant to people or groups on top of their built-in role."
      />
    );
  }
  return (
    <div className="nx-table-wrap">
      <table className="nx-table" data-testid="role-table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Description</th>
            <th scope="col">Permissions</th>
          </tr>
        </thead>
        <tbody>
          {roles.map((r) => (
            <tr key={r.id}>
              <td>
                <Link href={`/admin/roles?id=${encodeURIComponent(r.id)}`}>{r.name}</Link>
              </td>
              <td>{r.description || <span className="nx-muted">—</span>}</td>
              <td>
                <PermissionList permissions={r.permissions} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function BuiltinRoles({ catalog }: { catalog: PermissionCatalog }) {
  return (
    <Card
      title="Built-in roles"
      description="Every user has one of these; custom roles add to it. They cannot be changed."
    >
      <div className="nx-table-wrap">
        <table className="nx-table" data-testid="builtin-roles">
          <thead>
            <tr>
              <th scope="col">Role</th>
              <th scope="col">Permissions</th>
            </tr>
          </thead>
          <tbody>
            {catalog.builtin_roles.map((r) => (
              <tr key={r.name}>
                <td>{roleLabel(r.name)}</td>
                <td>
                  <PermissionList permissions={r.permissions} empty="None: can use the apps, manage nothing" />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

function RoleList() {
  const can = useCan();
  const { loaded, reload, update } = useLoad<Loaded>('roles', async (signal) => {
    const [catalog, roles] = await Promise.all([
      api.admin.permissions({ signal }),
      api.admin.roles({ signal }).then((r) => r.roles),
    ]);
    return { catalog, roles };
  });
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<string | null>(null);

  return (
    <div className="nx-stack">
      <SectionHeader title="Roles">
        {can('roles:manage') && !creating && (
          <Button
            size="small"
            onClick={() => {
              setCreated(null);
              setCreating(true);
            }}
          >
            New role
          </Button>
        )}
      </SectionHeader>
      {created && (
        <Alert tone="success" onDismiss={() => setCreated(null)} data-testid="role-created">
          The role {created} has been created. Open it to grant it to people or groups.
        </Alert>
      )}
      <LoadView loaded={loaded} reload={reload} what="roles">
        {({ catalog, roles }) => (
          <div className="nx-stack nx-stack--lg">
            {creating && (
              <Card title="New role">
                <RoleForm
                  catalog={catalog.permissions}
                  submitLabel="Create role"
                  onCancel={() => setCreating(false)}
                  onSubmit={async (input) => {
                    const role = await api.admin.createRole(input);
                    update((d) => ({ ...d, roles: [...d.roles, role] }));
                    setCreating(false);
                    setCreated(role.name);
                  }}
                />
              </Card>
            )}
            <section className="nx-stack" aria-labelledby="custom-roles-heading">
              <h3 id="custom-roles-heading" className="nx-section-title">
                Custom roles
              </h3>
              <CustomRoleTable roles={roles} />
            </section>
            <BuiltinRoles catalog={catalog} />
          </div>
        )}
      </LoadView>
    </div>
  );
}

export function RolesSection() {
  const id = useSelectedId();
  return id ? <RoleDetail key={id} id={id} /> : <RoleList />;
}
