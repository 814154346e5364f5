import { useState } from 'react';
import { api, isApiError, type SsoLink } from '../api';
import { Alert, Button, Card } from '../design';
import { errorMessage, useLoad } from './admin/common';
import { ssoErrorMessage } from './LoginPage';

const LINK_FAILED = "Linking did not work. Try again, or ask an administrator to check the provider's settings.";

/** What the account page says for `?sso_error=CODE`, when linking to a provider did not work:
 *  the login page's wording, but about linking where that one speaks of signing in in general. */
export function ssoLinkErrorMessage(code: string): string {
  const message = ssoErrorMessage(code) ?? LINK_FAILED;
  return code === 'failed' || message === ssoErrorMessage('failed') ? LINK_FAILED : message;
}

/** How linking went, from the address the provider sent the browser back to
 *  (`/account?sso=linked` or `/account?sso_error=CODE`); null when it came from elsewhere. */
export function ssoLinkResult(search: string): { tone: 'success' | 'danger'; message: string } | null {
  const params = new URLSearchParams(search);
  const error = params.get('sso_error');
  if (error !== null) return { tone: 'danger', message: ssoLinkErrorMessage(error) };
  if (params.get('sso') === 'linked') return { tone: 'success', message: 'Linked. You can now sign in with it.' };
  return null;
}

/** The address without the parameters `ssoLinkResult` reads, or null when it has none. */
export function withoutSsoResult(pathname: string, search: string): string | null {
  const params = new URLSearchParams(search);
  if (!params.has('sso') && !params.has('sso_error')) return null;
  params.delete('sso');
  params.delete('sso_error');
  const query = params.toString();
  return pathname + (query ? `?${query}` : '');
}

/**
 * The account page's sign-in providers: linking the account to one of the organization's
 * providers (through the provider, a full page load) or unlinking it. Shown only when the
 * organization has some; nothing shows while they load or if they cannot be had.
 */
export function SsoLinksCard() {
  const { loaded, update } = useLoad('sso-links', (signal) => api.ssoLinks({ signal }).then((r) => r.links));
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  if (loaded.status !== 'ready' || loaded.data.length === 0) return null;
  const links = loaded.data;

  const refresh = async () => {
    try {
      const { links: fresh } = await api.ssoLinks();
      update(() => fresh);
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  const link = async (provider: SsoLink) => {
    setError(null);
    setNotice(null);
    setBusy(provider.id);
    try {
      const { redirect } = await api.linkSso(provider.id);
      // To the provider, which sends the browser back to this page.
      window.location.assign(redirect);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(null);
    }
  };

  const unlink = async (provider: SsoLink) => {
    setError(null);
    setNotice(null);
    setBusy(provider.id);
    try {
      await api.unlinkSso(provider.id);
      setNotice(`Your account is no longer linked to ${provider.name}.`);
    } catch (err) {
      setError(errorMessage(err));
      // Already unlinked, or the provider is gone: the list shows how things are.
      if (!(isApiError(err) && err.status === 404)) {
        setBusy(null);
        return;
      }
    }
    await refresh();
    setBusy(null);
  };

  return (
    <Card
      title="Sign-in providers"
      description="Link your account to a provider of your organization, then use “Sign in with …” on the login page."
      data-testid="sso-links"
    >
      <div className="nx-stack">
        {error && (
          <Alert tone="danger" onDismiss={() => setError(null)} data-testid="sso-links-error">
            {error}
          </Alert>
        )}
        {notice && (
          <Alert tone="success" onDismiss={() => setNotice(null)} data-testid="sso-unlinked">
            {notice}
          </Alert>
        )}
        <ul className="nx-item-list">
          {links.map((p) => (
            <li key={p.id} data-testid="sso-link-row" data-linked={p.linked ? 'true' : undefined}>
              <div className="nx-row">
                <strong>{p.name}</strong>
                {p.linked && <span className="nx-badge nx-badge--success">Linked</span>}
              </div>
              {p.linked ? (
                <Button
                  variant="ghost"
                  size="small"
                  loading={busy === p.id}
                  disabled={busy !== null && busy !== p.id}
                  onClick={() => void unlink(p)}
                >
                  Unlink<span className="nx-visually-hidden"> {p.name}</span>
                </Button>
              ) : (
                <Button
                  variant="secondary"
                  size="small"
                  loading={busy === p.id}
                  disabled={busy !== null && busy !== p.id}
                  onClick={() => void link(p)}
                >
                  Link<span className="nx-visually-hidden"> {p.name}</span>
                </Button>
              )}
            </li>
          ))}
        </ul>
      </div>
    </Card>
  );
}
