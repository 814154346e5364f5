import { Alert, AppTile, Button, EmptyState, PageHeader, Spinner } from '../design';
import { Link, useLocation } from '../router';
import { useCatalog, useCurrentSession, useDocumentTitle } from '../session';

function greeting(now = new Date()): string {
  const hour = now.getHours();
  if (hour < 5) return 'Hello';
  if (hour < 12) return 'Good morning';
  if (hour < 18) return 'Good afternoon';
  return 'Good evening';
}

export function HubPage() {
  const session = useCurrentSession();
  const { state, reload } = useCatalog();
  const location = useLocation();
  useDocumentTitle('Hub');

  const name = session.user.display_name || session.user.email;

  return (
    <div className="nx-stack nx-stack--lg">
      <PageHeader
        title={
          <span data-testid="greeting">
            {greeting()}, {name}
          </span>
        }
        subtitle={`Everything in ${session.user.org.name}, in one place.`}
      />

      {session.must_change_password && (
        <Alert tone="warning" title="Choose your own password">
          You are using a one-time password. <Link href="/account">Change it now</Link> to keep your
          account safe.
        </Alert>
      )}

      <section aria-labelledby="apps-heading" className="nx-stack">
        <h2 id="apps-heading" className="nx-section-title">
          Apps
        </h2>
        {state.status === 'loading' && (
          <div className="nx-inline-loading">
            <Spinner label="Loading apps" />
          </div>
        )}
        {state.status === 'error' && (
          <Alert tone="danger" title="The apps could not be loaded">
            <p>{state.error.message}</p>
            <p className="nx-alert__actions">
              <Button variant="secondary" size="small" onClick={reload}>
                Try again
              </Button>
            </p>
          </Alert>
        )}
        {state.status === 'ready' && state.data.apps.length === 0 && (
          <EmptyState
            icon="grid"
            title="No apps yet"
            description="Your administrator has not enabled any apps for your organization."
          />
        )}
        {state.status === 'ready' && state.data.apps.length > 0 && (
          <ul className="nx-tile-grid" data-testid="launcher" aria-label="Apps">
            {state.data.apps.map((app) => (
              <li key={app.id}>
                <AppTile
                  id={app.id}
                  name={app.name}
                  description={app.description}
                  href={app.path}
                  icon={app.icon}
                  current={app.path === location.pathname}
                />
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
