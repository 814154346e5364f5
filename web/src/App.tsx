import { useState, type ReactNode } from 'react';
import { isApiError } from './api';
import { useBrandColor } from './branding';
import { Alert, AppShell, Button, EmptyState, PageLoading } from './design';
import { AccountPage } from './pages/AccountPage';
import { AdminPage } from './pages/admin/AdminPage';
import { SECTIONS, canAdminister } from './pages/admin/sections';
import { HubPage } from './pages/HubPage';
import { LoginPage } from './pages/LoginPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { ResetPasswordPage } from './pages/ResetPasswordPage';
import { SetupPage } from './pages/SetupPage';
import { Navigate, useLocation, useNavigate } from './router';
import { useCatalog, useOrgLogoUrl, useProductName, useSession } from './session';

/** Signed-in routes: path → page. Apps add their entry here. */
const routes: Record<string, () => ReactNode> = {
  '/': () => <HubPage />,
  '/account': () => <AccountPage />,
  '/admin': () => <AdminPage section={null} />,
  ...Object.fromEntries(SECTIONS.map((s) => [s.path, () => <AdminPage section={s.id} />])),
};

export function normalizePath(pathname: string): string {
  if (pathname.length > 1 && pathname.endsWith('/')) return pathname.replace(/\/+$/, '') || '/';
  return pathname;
}

function Shell({ children }: { children: ReactNode }) {
  const { state, logout } = useSession();
  const catalog = useCatalog();
  const product = useProductName();
  const location = useLocation();
  const navigate = useNavigate();
  const logoUrl = useOrgLogoUrl();
  const [logoutError, setLogoutError] = useState<string | null>(null);

  const session = state.status === 'authenticated' ? state.session : null;
  const org = session?.user.org;
  const nav =
    catalog.state.status === 'ready'
      ? catalog.state.data.apps.map((app) => ({ id: app.id, label: app.name, href: app.path }))
      : [];

  const onLogout = async () => {
    setLogoutError(null);
    try {
      await logout();
      navigate('/login', { replace: true });
    } catch (err) {
      setLogoutError(isApiError(err) ? err.message : 'Logging out failed. Try again.');
    }
  };

  return (
    <AppShell
      productName={product}
      nav={nav}
      currentPath={location.pathname}
      user={
        session && {
          displayName: session.user.display_name || session.user.email,
          email: session.user.email,
          orgName: session.user.org.name,
        }
      }
      onLogout={onLogout}
      adminHref={session && canAdminister(session.user.permissions) ? '/admin' : undefined}
      logoUrl={org?.has_logo ? logoUrl : undefined}
      logoAlt={org?.name}
    >
      {logoutError && (
        <Alert tone="danger" title="You are still logged in" onDismiss={() => setLogoutError(null)} className="nx-shell-notice">
          {logoutError}
        </Alert>
      )}
      {children}
    </AppShell>
  );
}

function loginRedirect(pathname: string, search: string): string {
  if (pathname === '/' && !search) return '/login';
  return `/login?next=${encodeURIComponent(pathname + search)}`;
}

export function App() {
  const { state, refresh } = useSession();
  const location = useLocation();
  const pathname = normalizePath(location.pathname);
  // The organization's colour while someone is signed in; the default once they are not.
  useBrandColor(state.status === 'authenticated' ? state.session.user.org.brand_color : null);

  if (pathname === '/login') return <LoginPage />;
  if (pathname === '/reset-password') return <ResetPasswordPage />;
  if (pathname === '/setup') return <SetupPage />;

  switch (state.status) {
    case 'loading':
      return <PageLoading />;
    case 'anonymous':
      return <Navigate to={loginRedirect(location.pathname, location.search)} />;
    case 'error':
      return (
        <main className="nx-main">
          <EmptyState
            icon="alert"
            title="The server cannot be reached"
            description={state.error.message}
            action={<Button onClick={() => void refresh()}>Try again</Button>}
          />
        </main>
      );
    case 'authenticated': {
      const page = routes[pathname];
      return <Shell>{page ? page() : <NotFoundPage />}</Shell>;
    }
  }
}
