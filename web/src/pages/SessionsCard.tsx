import { useState } from 'react';
import { api, isApiError, type AccountSession } from '../api';
import { Alert, Button, Card } from '../design';
import { useNavigate } from '../router';
import { useSession } from '../session';
import { ConfirmAction, LoadView, Time, errorMessage, useLoad } from './admin/common';

function SessionList({
  sessions,
  ending,
  onEnd,
}: {
  sessions: AccountSession[];
  ending: string | null;
  onEnd: (session: AccountSession) => void;
}) {
  if (sessions.length === 0) return <p className="nx-muted">No sessions are open.</p>;
  return (
    <ul className="nx-item-list" data-testid="session-list">
      {sessions.map((s) => (
        <li key={s.id} data-testid="session" data-current={s.current ? 'true' : undefined}>
          <div>
            <div className="nx-row">
              <strong>{s.client}</strong>
              {s.current && (
                <span className="nx-badge nx-badge--success" data-testid="this-device">
                  This device
                </span>
              )}
            </div>
            <div className="nx-muted nx-small">
              Signed in <Time value={s.created_at} />, expires <Time value={s.expires_at} />
            </div>
          </div>
          {!s.current && (
            <Button
              variant="ghost"
              size="small"
              loading={ending === s.id}
              onClick={() => onEnd(s)}
              data-testid="session-sign-out"
            >
              Sign out<span className="nx-visually-hidden"> the session from {s.client}</span>
            </Button>
          )}
        </li>
      ))}
    </ul>
  );
}

/** The account page's sessions: where the user is signed in, signing one out, or all of them. */
export function SessionsCard() {
  const { logout } = useSession();
  const navigate = useNavigate();
  const { loaded, reload, update } = useLoad('sessions', (signal) => api.sessions({ signal }).then((r) => r.sessions));
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [ending, setEnding] = useState<string | null>(null);

  const end = async (session: AccountSession) => {
    setError(null);
    setNotice(null);
    setEnding(session.id);
    try {
      await api.endSession(session.id);
      setNotice(`The session from ${session.client} is signed out.`);
    } catch (err) {
      if (!(isApiError(err) && err.status === 404)) {
        setError(errorMessage(err));
        return;
      }
      setNotice('That session had already ended.');
    } finally {
      setEnding(null);
    }
    update((sessions) => sessions.filter((s) => s.id !== session.id));
  };

  const endEverywhere = async () => {
    setError(null);
    setNotice(null);
    try {
      await logout({ everywhere: true });
      navigate('/login', { replace: true });
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <Card
      title="Sessions"
      description="Where you are signed in. Sign out a device you no longer use or do not recognize."
      data-testid="sessions"
    >
      <div className="nx-stack">
        {error && (
          <Alert tone="danger" onDismiss={() => setError(null)} data-testid="sessions-error">
            {error}
          </Alert>
        )}
        {notice && (
          <Alert tone="success" onDismiss={() => setNotice(null)} data-testid="session-ended">
            {notice}
          </Alert>
        )}
        <LoadView loaded={loaded} reload={reload} what="sessions">
          {(sessions) => (
            <SessionList sessions={sessions} ending={ending} onEnd={(s) => void end(s)} />
          )}
        </LoadView>
        <div>
          <ConfirmAction
            label="Log out everywhere"
            question="End every session, this one included? You will have to log in again on each device."
            confirmLabel="Log out on every device"
            onConfirm={endEverywhere}
            testId="logout-everywhere"
          />
        </div>
      </div>
    </Card>
  );
}
