import { useEffect, useState } from 'react';
import { api, type AuditRecord } from '../../api';
import { Alert, Button, EmptyState, Spinner } from '../../design';
import { SectionHeader, Time, errorMessage } from './common';

/** Records per request. */
export const AUDIT_PAGE = 50;

type State =
  | { status: 'loading' }
  | { status: 'error'; message: string }
  | { status: 'ready'; records: AuditRecord[]; after: number; more: 'idle' | 'loading' | 'none' };

function AuditTable({ records }: { records: AuditRecord[] }) {
  return (
    <div className="nx-table-wrap">
      <table className="nx-table" data-testid="audit-table">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Who</th>
            <th scope="col">What</th>
            <th scope="col">To what</th>
          </tr>
        </thead>
        <tbody>
          {records.map((r) => (
            <tr key={r.seq} data-testid="audit-record">
              <td>
                <Time value={r.at} />
              </td>
              <td>
                <div className="nx-break">{r.actor}</div>
                {r.source && <div className="nx-muted nx-small">from {r.source}</div>}
              </td>
              <td>
                <code>{r.action}</code>
              </td>
              <td className="nx-break">{r.target}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The organization's audit log, oldest first; "Load more" appends the records that follow. */
export function AuditSection() {
  const [state, setState] = useState<State>({ status: 'loading' });
  const [moreError, setMoreError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    setState({ status: 'loading' });
    api.admin.audit(0, AUDIT_PAGE, { signal: controller.signal }).then(
      (page) => {
        if (!controller.signal.aborted) setState({ status: 'ready', records: page.records, after: page.next_after, more: 'idle' });
      },
      (err: unknown) => {
        if (!controller.signal.aborted) setState({ status: 'error', message: errorMessage(err) });
      },
    );
    return () => controller.abort();
  }, [attempt]);

  const loadMore = async () => {
    if (state.status !== 'ready') return;
    setMoreError(null);
    setState({ ...state, more: 'loading' });
    try {
      const page = await api.admin.audit(state.after, AUDIT_PAGE);
      setState({
        status: 'ready',
        records: [...state.records, ...page.records],
        after: page.next_after,
        more: page.records.length === 0 ? 'none' : 'idle',
      });
    } catch (err) {
      setState({ ...state, more: 'idle' });
      setMoreError(errorMessage(err));
    }
  };

  return (
    <div className="nx-stack">
      <SectionHeader title="Audit log" />
      <p className="nx-muted">
        Every change to users, groups, roles, sign-ins and settings, oldest first. Records cannot be edited or removed.
      </p>
      {state.status === 'loading' && (
        <div className="nx-inline-loading">
          <Spinner label="Loading the audit log" />
        </div>
      )}
      {state.status === 'error' && (
        <Alert tone="danger" title="The audit log could not be loaded" data-testid="admin-load-error">
          <p>{state.message}</p>
          <p className="nx-alert__actions">
            <Button variant="secondary" size="small" onClick={() => setAttempt((n) => n + 1)}>
              Try again
            </Button>
          </p>
        </Alert>
      )}
      {state.status === 'ready' && (
        <>
          {state.records.length === 0 ? (
            <EmptyState icon="file" title="Nothing recorded yet" description="Changes appear here as soon as they are made." />
          ) : (
            <AuditTable records={state.records} />
          )}
          {moreError && (
            <Alert tone="danger" onDismiss={() => setMoreError(null)}>
              {moreError}
            </Alert>
          )}
          {state.more === 'none' && (
            <p role="status" className="nx-muted" data-testid="audit-end">
              No newer records yet. Load more again later to see what has happened since.
            </p>
          )}
          <div>
            <Button variant="secondary" loading={state.more === 'loading'} onClick={() => void loadMore()}>
              Load more
            </Button>
          </div>
        </>
      )}
    </div>
  );
}
