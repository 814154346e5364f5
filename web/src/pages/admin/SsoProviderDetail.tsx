import { useEffect, useRef, useState } from 'react';
import { api } from '../../api';
import { Alert, Button, Card } from '../../design';
import { useNavigate } from '../../router';
import { RedirectUri, SsoProviderForm } from './SsoProviderForm';
import { ActionError, BackLink, ConfirmAction, LoadView, Time, errorMessage, useIsOwner, useLoad } from './common';

/** Said instead of the add, edit and remove buttons to everyone but owners. */
export const OWNERS_ONLY = 'Only an owner can add or change sign-in providers.';

export function SsoProviderDetail({ id }: { id: string }) {
  const isOwner = useIsOwner();
  const navigate = useNavigate();
  const [actionError, setActionError] = useState<string | null>(null);
  const [editing, setEditing] = useState(false);
  const [saved, setSaved] = useState(false);
  const editRef = useRef<HTMLButtonElement>(null);
  const wasEditing = useRef(false);
  const { loaded, reload, update } = useLoad(`sso-provider:${id}`, (signal) => api.admin.ssoProvider(id, { signal }));

  // Back from the form (saved or cancelled): the focus returns to Edit.
  useEffect(() => {
    if (wasEditing.current && !editing) editRef.current?.focus();
    wasEditing.current = editing;
  }, [editing]);

  return (
    <div className="nx-stack">
      <BackLink href="/admin/sso">All sign-in providers</BackLink>
      <LoadView loaded={loaded} reload={reload} what="sign-in provider">
        {(provider) => (
          <div className="nx-stack" data-testid="sso-detail">
            <ActionError message={actionError} onDismiss={() => setActionError(null)} />
            {saved && (
              <Alert tone="success" onDismiss={() => setSaved(false)} data-testid="sso-saved">
                Saved. The next sign-in through {provider.name} uses the new settings.
              </Alert>
            )}
            {editing ? (
              <Card
                title={`Change ${provider.name}`}
                description="A new issuer URL is checked before saving; if NEXUS cannot reach it, nothing changes."
              >
                <SsoProviderForm
                  initial={provider}
                  redirectUri={provider.redirect_uri}
                  submitLabel="Save changes"
                  autoFocus
                  onCancel={() => setEditing(false)}
                  onSubmit={async ({ client_secret, ...settings }) => {
                    setSaved(false);
                    const updated = await api.admin.updateSsoProvider(
                      provider.id,
                      client_secret ? { ...settings, client_secret } : settings,
                    );
                    update(() => updated);
                    setEditing(false);
                    setSaved(true);
                  }}
                />
              </Card>
            ) : (
              <Card title={provider.name} description={<span className="nx-break">{provider.issuer}</span>}>
                <div className="nx-stack">
                  <dl className="nx-deflist">
                    <div>
                      <dt>Client ID</dt>
                      <dd>
                        <code className="nx-break">{provider.client_id}</code>
                      </dd>
                    </div>
                    <div>
                      <dt>Client secret</dt>
                      <dd className="nx-muted">Kept by NEXUS, never shown</dd>
                    </div>
                    <div>
                      <dt>New people</dt>
                      <dd data-testid="sso-create-users">
                        {provider.create_users
                          ? 'Get an account at their first sign-in'
                          : 'Only people who already have an account here can sign in'}
                      </dd>
                    </div>
                    <div>
                      <dt>E-mail addresses</dt>
                      <dd data-testid="sso-trust-email">
                        {provider.trust_email
                          ? 'Trusted, even when the provider does not say they are verified'
                          : 'Used only when the provider confirms them'}
                      </dd>
                    </div>
                    <div>
                      <dt>Added</dt>
                      <dd>
                        <Time value={provider.created_at} />
                      </dd>
                    </div>
                  </dl>
                  <RedirectUri value={provider.redirect_uri} />
                  {isOwner && (
                    <div>
                      <Button
                        ref={editRef}
                        variant="secondary"
                        size="small"
                        onClick={() => {
                          setSaved(false);
                          setEditing(true);
                        }}
                      >
                        Edit
                      </Button>
                    </div>
                  )}
                </div>
              </Card>
            )}

            {isOwner ? (
              <div>
                <ConfirmAction
                  label="Remove provider"
                  variant="danger"
                  question={`Remove ${provider.name}? Its button leaves the login page. The accounts it created stay, but the people who signed in through it must sign in another way: an administrator can reset their password.`}
                  confirmLabel="Remove provider"
                  testId="remove-sso"
                  onConfirm={async () => {
                    setActionError(null);
                    try {
                      await api.admin.deleteSsoProvider(provider.id);
                      navigate('/admin/sso');
                    } catch (err) {
                      setActionError(errorMessage(err));
                    }
                  }}
                />
              </div>
            ) : (
              <p className="nx-muted" data-testid="sso-owner-only">
                {OWNERS_ONLY}
              </p>
            )}
          </div>
        )}
      </LoadView>
    </div>
  );
}
