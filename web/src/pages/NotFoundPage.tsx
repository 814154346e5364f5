import { Button, EmptyState } from '../design';
import { useLocation, useNavigate } from '../router';
import { useDocumentTitle } from '../session';

export function NotFoundPage() {
  const location = useLocation();
  const navigate = useNavigate();
  useDocumentTitle('Page not found');
  return (
    <div data-testid="not-found">
      <EmptyState
        icon="compass"
        title="This page does not exist"
        description={
          <>
            Nothing lives at <code>{location.pathname}</code>. It may have moved, or the link may be
            mistyped.
          </>
        }
        action={<Button onClick={() => navigate('/')}>Back to the Hub</Button>}
      />
    </div>
  );
}
