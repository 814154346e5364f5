import { useState } from 'react';
import { api, type AdminUserDetail, type BuiltinRole, type Group } from '../../api';
import { Alert, Button, Card, SelectField } from '../../design';
import { Link } from '../../router';
import { useCan, useCurrentSession } from '../../session';
import { roleLabel } from '../AccountPage';
import {
  ActionError,
  BackLink,
  ConfirmAction,
  DirectoryBadge,
  LoadView,
  OneTimeSecret,
  PermissionList,
  Time,
  UserStatus,
  errorMessage,
  useLoad,
  userName,
} from './common';
import { roleChoices } from './sections';

interface Loaded {
  user: AdminUserDetail;
  /** Every group, for naming the user's; null when they could not be read. */
  groups: Group[] | null;
}

function Manage({
  user,
  onChanged,
  onError,
}: {
  user: AdminUserDetail;
  onChanged: (user: AdminUserDetail) => void;
  onError: (message: string | null) => void;
}) {
  const session = useCurrentSession();
  const isSelf = session.user.id === user.id;
  const isOwner = session.user.role === 'owner';
  const [role, setRole] = useState(user.role);
  const [busy, setBusy] = useState<'role' | 'disabled' | null>(null);
  const [password, setPassword] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const name = userName(user);
  const choices: string[] = roleChoices(isOwner);
  if (!choices.includes(user.role)) choices.push(user.role);

  const change = async (what: 'role' | 'disabled', patch: { role?: BuiltinRole; disabled?: boolean }) => {
    onError(null);
    setNotice(null);
    setBusy(what);
    try {
      const updated = await api.admin.updateUser(user.id, patch);
      onChanged(updated);
      setRole(updated.role);
      setNotice(
        what === 'role'
          ? `${name}'s role is now ${roleLabel(updated.role)}.`
          : updated.disabled
            ? `${name} is disabled and logged out everywhere.`
            : `${name} can log in again.`,
      );
    } catch (err) {
      setRole(user.role);
      onError(errorMessage(err));
    } finally {
      setBusy(null);
    }
  };

  const resetPassword = async () => {
    onError(null);
    setNotice(null);
    try {
      const { one_time_password } = await api.admin.resetPassword(user.id);
      setPassword(one_time_password);
      onChanged({ ...user, must_change_password: true });
    } catch (err) {
      onError(errorMessage(err));
    }
  };

  const resetMfa = async () => {
    onError(null);
    setNotice(null);
    try {
      await api.admin.resetMfa(user.id);
      setNotice(`Two-step verification is off for ${name}. Ask them to set it up again on their Account page.`);
    } catch (err) {
      onError(errorMessage(err));
    }
  };

  return (
    <Card title="Manage" description="Changes take effect at once; a disabled user is logged out everywhere.">
      <div className="nx-stack">
        {notice && (
          <Alert tone="success" onDismiss={() => setNotice(null)} data-testid="admin-notice">
            {notice}
          </Alert>
        )}
        {password && (
          <OneTimeSecret
            title={`New one-time password for ${user.email}`}
            secrets={[{ label: 'One-time password', value: password }]}
            onDone={() => setPassword(null)}
            testId="reset-password-result"
          >
            Their old password no longer works and they are logged out everywhere. Give them this one-time password;
            they must choose their own after logging in. Copy it now: it is shown only this once.
          </OneTimeSecret>
        )}
        {isSelf ? (
          <Alert tone="info">
            This is your own account. Another administrator must change your role or disable you.
          </Alert>
        ) : (
          <>
            <div className="nx-row nx-row--end">
              <SelectField label="Role" value={role} onChange={(e) => setRole(e.target.value)}>
                {choices.map((r) => (
                  <option key={r} value={r}>
                    {roleLabel(r)}
                  </option>
                ))}
              </SelectField>
              <Button
                variant="secondary"
                disabled={role === user.role}
                loading={busy === 'role'}
                onClick={() => void change('role', { role: role as BuiltinRole })}
              >
                Change role
              </Button>
            </div>
            <div className="nx-row">
              <Button
                variant="secondary"
                size="small"
                loading={busy === 'disabled'}
                onClick={() => void change('disabled', { disabled: !user.disabled })}
                data-testid="toggle-disabled"
              >
                {user.disabled ? 'Enable account' : 'Disable account'}
              </Button>
            </div>
          </>
        )}
        {user.directory && (
          <p className="nx-muted" data-testid="directory-password">
            {name} logs in with their password in the directory {user.directory.name}; change it there.
          </p>
        )}
        <div className="nx-row">
          {!user.directory && (
            <ConfirmAction
              label="Reset password"
              question={`${name}'s password stops working and they are logged out everywhere. You get a one-time password to give them.`}
              confirmLabel="Reset password"
              onConfirm={resetPassword}
              testId="reset-password"
            />
          )}
          <ConfirmAction
            label="Reset two-step verification"
            question={`This removes ${name}'s authenticator app and recovery codes, so their password alone logs them in until they set up a new app. Do this only when you are sure it is really them asking.`}
            confirmLabel="Reset two-step verification"
            onConfirm={resetMfa}
            testId="reset-mfa"
          />
        </div>
      </div>
    </Card>
  );
}

function Access({ user, groups }: Loaded) {
  const groupName = (id: string) => groups?.find((g) => g.id === id)?.name ?? id;
  return (
    <Card title="Access" description="What the built-in role, groups and custom roles add up to.">
      <dl className="nx-deflist" data-testid="user-access">
        <div>
          <dt>Groups</dt>
          <dd>
            {user.groups.length === 0 ? (
              <span className="nx-muted">None</span>
            ) : (
              <ul className="nx-plain-list">
                {user.groups.map((id) => (
                  <li key={id}>
                    <Link href={`/admin/groups?id=${encodeURIComponent(id)}`}>{groupName(id)}</Link>
                  </li>
                ))}
              </ul>
            )}
          </dd>
        </div>
        <div>
          <dt>Custom roles</dt>
          <dd>
            {user.roles.length === 0 ? (
              <span className="nx-muted">None</span>
            ) : (
              <ul className="nx-plain-list">
                {user.roles.map((r) => (
                  <li key={r.id}>
                    <Link href={`/admin/roles?id=${encodeURIComponent(r.id)}`}>{r.name}</Link>
                  </li>
                ))}
              </ul>
            )}
          </dd>
        </div>
        <div>
          <dt>Permissions</dt>
          <dd>
            <PermissionList permissions={user.permissions} empty="None: this user can use the apps but manage nothing" />
          </dd>
        </div>
      </dl>
    </Card>
  );
}

export function UserDetail({ id }: { id: string }) {
  const can = useCan();
  const [actionError, setActionError] = useState<string | null>(null);
  const { loaded, reload, update } = useLoad<Loaded>(`user:${id}`, async (signal) => {
    const [user, groups] = await Promise.all([
      api.admin.user(id, { signal }),
      api.admin
        .groups({ signal })
        .then((r) => r.groups)
        .catch(() => null),
    ]);
    return { user, groups };
  });

  return (
    <div className="nx-stack">
      <BackLink href="/admin/users">All users</BackLink>
      <LoadView loaded={loaded} reload={reload} what="user">
        {(data) => (
          <div className="nx-stack" data-testid="user-detail">
            <ActionError message={actionError} onDismiss={() => setActionError(null)} />
            <Card title={userName(data.user)}>
              <dl className="nx-deflist">
                <div>
                  <dt>E-mail</dt>
                  <dd>{data.user.email}</dd>
                </div>
                <div>
                  <dt>Role</dt>
                  <dd>{roleLabel(data.user.role)}</dd>
                </div>
                {data.user.directory && (
                  <div>
                    <dt>Directory</dt>
                    <dd>
                      <DirectoryBadge directory={data.user.directory} />
                    </dd>
                  </div>
                )}
                <div>
                  <dt>Status</dt>
                  <dd>
                    <UserStatus user={data.user} />
                  </dd>
                </div>
                <div>
                  <dt>Added</dt>
                  <dd>
                    <Time value={data.user.created_at} />
                  </dd>
                </div>
              </dl>
            </Card>
            {can('users:manage') && (
              <Manage
                user={data.user}
                onError={setActionError}
                onChanged={(user) => update((d) => ({ ...d, user }))}
              />
            )}
            <Access {...data} />
          </div>
        )}
      </LoadView>
    </div>
  );
}
