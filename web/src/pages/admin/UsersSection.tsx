import { useRef, useState, type FormEvent } from 'react';
import { api, isApiError, type AddedUser, type AdminUser, type BuiltinRole } from '../../api';
import { Alert, Button, Card, EmptyState, SelectField, TextField } from '../../design';
import { Link } from '../../router';
import { useCan, useCurrentSession } from '../../session';
import { roleLabel } from '../AccountPage';
import {
  DirectoryBadge,
  LoadView,
  OneTimeSecret,
  SectionHeader,
  UserStatus,
  errorMessage,
  useLoad,
  useSelectedId,
  userName,
} from './common';
import { roleChoices } from './sections';
import { UserDetail } from './UserDetail';

function AddUserForm({ onAdded, onCancel }: { onAdded: (user: AddedUser) => void; onCancel: () => void }) {
  const session = useCurrentSession();
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [role, setRole] = useState<BuiltinRole>('member');
  const [emailError, setEmailError] = useState<string | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const emailRef = useRef<HTMLInputElement>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setFormError(null);
    if (!email.trim().includes('@')) {
      setEmailError('Enter the e-mail address the person will log in with.');
      return emailRef.current?.focus();
    }
    setEmailError(null);
    setBusy(true);
    try {
      const added = await api.admin.addUser({
        email: email.trim(),
        display_name: name.trim() || undefined,
        role,
      });
      onAdded(added);
    } catch (err) {
      if (isApiError(err) && err.code === 'validation.failed') {
        setEmailError(err.message);
        emailRef.current?.focus();
      } else {
        setFormError(errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="Add a user" description="They get a one-time password and choose their own at the first login.">
      <form className="nx-stack" onSubmit={submit} noValidate data-testid="add-user-form">
        {formError && <Alert tone="danger">{formError}</Alert>}
        <TextField
          ref={emailRef}
          label="E-mail"
          type="email"
          autoComplete="off"
          value={email}
          error={emailError}
          onChange={(e) => setEmail(e.target.value)}
        />
        <TextField
          label="Name"
          hint="Optional; shown to others. Leave empty to use the e-mail address."
          autoComplete="off"
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        <SelectField label="Role" value={role} onChange={(e) => setRole(e.target.value as BuiltinRole)}>
          {roleChoices(session.user.role === 'owner').map((r) => (
            <option key={r} value={r}>
              {roleLabel(r)}
            </option>
          ))}
        </SelectField>
        <div className="nx-row">
          <Button type="submit" loading={busy}>
            Add user
          </Button>
          <Button variant="ghost" onClick={onCancel}>
            Cancel
          </Button>
        </div>
      </form>
    </Card>
  );
}

function UserTable({ users }: { users: AdminUser[] }) {
  if (users.length === 0) {
    return <EmptyState icon="user" title="No users yet" description="Add the people of your organization with Add user." />;
  }
  return (
    <div className="nx-table-wrap">
      <table className="nx-table" data-testid="user-table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">E-mail</th>
            <th scope="col">Role</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id}>
              <td>
                <Link href={`/admin/users?id=${encodeURIComponent(u.id)}`}>{userName(u)}</Link>{' '}
                <DirectoryBadge directory={u.directory} />
              </td>
              <td>{u.email}</td>
              <td>{roleLabel(u.role)}</td>
              <td>
                <UserStatus user={u} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function UserList() {
  const can = useCan();
  const { loaded, reload, update } = useLoad('users', (signal) => api.admin.users({ signal }).then((r) => r.users));
  const [adding, setAdding] = useState(false);
  const [added, setAdded] = useState<AddedUser | null>(null);

  return (
    <div className="nx-stack">
      <SectionHeader title="Users">
        {can('users:manage') && !adding && (
          <Button
            size="small"
            onClick={() => {
              setAdded(null);
              setAdding(true);
            }}
          >
            Add user
          </Button>
        )}
      </SectionHeader>
      {added && (
        <OneTimeSecret
          title={`${added.email} can now log in`}
          secrets={[{ label: 'One-time password', value: added.one_time_password }]}
          onDone={() => setAdded(null)}
          testId="new-user-password"
        >
          Give them this one-time password: they log in with it and must then choose their own. Copy it now: it is
          shown only this once.
        </OneTimeSecret>
      )}
      {adding && (
        <AddUserForm
          onCancel={() => setAdding(false)}
          onAdded={(user) => {
            setAdding(false);
            setAdded(user);
            const { one_time_password: _secret, ...listed } = user;
            update((users) => [...users, listed]);
          }}
        />
      )}
      <LoadView loaded={loaded} reload={reload} what="users">
        {(users) => <UserTable users={users} />}
      </LoadView>
    </div>
  );
}

export function UsersSection() {
  const id = useSelectedId();
  return id ? <UserDetail key={id} id={id} /> : <UserList />;
}
