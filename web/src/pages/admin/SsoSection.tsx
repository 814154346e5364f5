import { useState } from 'react';
import { api, type SsoProvider } from '../../api';
import { Alert, Card, EmptyState } from '../../design';
import { Link } from '../../router';
import { OWNERS_ONLY, SsoProviderDetail } from './SsoProviderDetail';
import { SsoProviderForm } from './SsoProviderForm';
import { LoadView, OwnerListHeader, useIsOwner, useLoad, useSelectedId } from './common';

function ProviderTable({ providers, isOwner }: { providers: SsoProvider[]; isOwner: boolean }) {
  if (providers.length === 0) {
    return (
      <EmptyState
        icon="key"
        title="No sign-in providers yet"
        description={
          isOwner
            ? 'Add one with Add provider, and the login page offers “Sign in with …” for it.'
            : 'Once an owner adds one, the login page offers “Sign in with …” for it.'
        }
      />
    );
  }
  return (
    <div className="nx-table-wrap">
      <table className="nx-table" data-testid="sso-list">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Issuer URL</th>
            <th scope="col">Creates accounts</th>
          </tr>
        </thead>
        <tbody>
          {providers.map((p) => (
            <tr key={p.id} data-testid="sso-provider">
              <td>
                <Link href={`/admin/sso?id=${encodeURIComponent(p.id)}`}>{p.name}</Link>
              </td>
              <td>
                <code className="nx-break">{p.issuer}</code>
              </td>
              <td>{p.create_users ? 'Yes' : 'No'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ProviderList() {
  const isOwner = useIsOwner();
  const { loaded, reload, update } = useLoad('sso-providers', (signal) => api.admin.ssoProviders({ signal }));
  const [adding, setAdding] = useState(false);
  const [added, setAdded] = useState<SsoProvider | null>(null);

  return (
    <div className="nx-stack">
      <OwnerListHeader
        title="Sign-in providers"
        addLabel="Add provider"
        isOwner={isOwner}
        adding={adding}
        onAdd={() => {
          setAdded(null);
          setAdding(true);
        }}
        ownersOnly={OWNERS_ONLY}
        ownersOnlyTestId="sso-owner-only"
      >
        Outside OpenID Connect providers people can sign in through, such as Microsoft Entra ID, Keycloak or another
        NEXUS. Each one adds a “Sign in with …” button to the login page.
      </OwnerListHeader>
      {added && (
        <Alert tone="success" onDismiss={() => setAdded(null)} data-testid="sso-created">
          {added.name} is added: the login page now offers “Sign in with {added.name}”.
        </Alert>
      )}
      <LoadView loaded={loaded} reload={reload} what="sign-in providers">
        {(data) => (
          <div className="nx-stack">
            {adding && (
              <Card
                title="Add a provider"
                description="NEXUS reaches the provider before saving, so a wrong address shows at once."
              >
                <SsoProviderForm
                  redirectUri={data.new_redirect_uri}
                  submitLabel="Add provider"
                  autoFocus
                  onCancel={() => setAdding(false)}
                  onSubmit={async (input) => {
                    // The id whose redirect URI the form showed, and so was registered at the provider.
                    const provider = await api.admin.createSsoProvider({ ...input, id: data.new_id });
                    update((d) => ({ ...d, providers: [...d.providers, provider] }));
                    setAdding(false);
                    setAdded(provider);
                    // The id is taken now: the next provider gets another.
                    reload();
                  }}
                />
              </Card>
            )}
            <ProviderTable providers={data.providers} isOwner={isOwner} />
          </div>
        )}
      </LoadView>
    </div>
  );
}

export function SsoSection() {
  const id = useSelectedId();
  return id ? <SsoProviderDetail key={id} id={id} /> : <ProviderList />;
}
