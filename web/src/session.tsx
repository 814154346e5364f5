// Who is signed in, and the app catalogue: loaded once, shared by every page.
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
  type ReactNode,
} from 'react';
import { api, ApiError, isApiError, onUnauthorized, type AppsResponse, type Permission, type Session } from './api';

export type SessionState =
  | { status: 'loading' }
  | { status: 'anonymous' }
  | { status: 'authenticated'; session: Session }
  | { status: 'error'; error: ApiError };

interface SessionValue {
  state: SessionState;
  /** Re-asks the server who is signed in. */
  refresh: () => Promise<void>;
  /** Records a session the login form just obtained. */
  signedIn: (session: Session) => void;
  /** Ends the session on the server (with `everywhere`, every session of the user); throws
   *  ApiError when that fails. */
  logout: (options?: { everywhere?: boolean }) => Promise<void>;
  /** Clears the "must change password" flag after a successful change. */
  passwordChanged: () => void;
  /** Bumped whenever the organization's logo changes, so images of it are fetched afresh. */
  logoRevision: number;
  /** After the organization's name, colour or logo changed: re-reads the session. */
  brandingChanged: () => Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);

function toApiError(err: unknown): ApiError {
  if (isApiError(err)) return err;
  return new ApiError(0, 'network.unreachable', String(err));
}

export function SessionProvider({
  children,
  initial = { status: 'loading' },
}: {
  children: ReactNode;
  initial?: SessionState;
}) {
  const [state, setState] = useState<SessionState>(initial);
  const [logoRevision, setLogoRevision] = useState(0);

  const refresh = useCallback(async () => {
    try {
      const session = await api.session();
      setState({ status: 'authenticated', session });
    } catch (err) {
      const apiErr = toApiError(err);
      if (apiErr.status === 401) setState({ status: 'anonymous' });
      else setState({ status: 'error', error: apiErr });
    }
  }, []);

  useEffect(() => {
    if (initial.status === 'loading') void refresh();
    // Only on mount: `initial` is a starting value, not a live input.
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  // Any API call that finds the session gone sends the user back to log in.
  useEffect(() => onUnauthorized(() => setState({ status: 'anonymous' })), []);

  const signedIn = useCallback((session: Session) => {
    setState({ status: 'authenticated', session });
  }, []);

  const logout = useCallback(async ({ everywhere = false }: { everywhere?: boolean } = {}) => {
    try {
      await (everywhere ? api.logoutEverywhere() : api.logout());
    } catch (err) {
      // Already logged out is as good as logging out.
      if (!(isApiError(err) && err.status === 401)) throw err;
    }
    setState({ status: 'anonymous' });
  }, []);

  const passwordChanged = useCallback(() => {
    setState((prev) =>
      prev.status === 'authenticated'
        ? { status: 'authenticated', session: { ...prev.session, must_change_password: false } }
        : prev,
    );
  }, []);

  const brandingChanged = useCallback(async () => {
    setLogoRevision((n) => n + 1);
    await refresh();
  }, [refresh]);

  const value = useMemo(
    () => ({ state, refresh, signedIn, logout, passwordChanged, logoRevision, brandingChanged }),
    [state, refresh, signedIn, logout, passwordChanged, logoRevision, brandingChanged],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const ctx = useContext(SessionContext);
  if (!ctx) throw new Error('useSession must be used inside <SessionProvider>');
  return ctx;
}

/** The signed-in session; only for components rendered behind the session gate. */
export function useCurrentSession(): Session {
  const { state } = useSession();
  if (state.status !== 'authenticated') throw new Error('no signed-in session');
  return state.session;
}

/** Whether the signed-in user holds `permission` (the server checks again on every request). */
export function can(session: Session, permission: Permission): boolean {
  return session.user.permissions.includes(permission);
}

/** `can` for the signed-in user; only for components rendered behind the session gate. */
export function useCan(): (permission: Permission) => boolean {
  const session = useCurrentSession();
  return (permission) => can(session, permission);
}

/** The organization logo's address, changed after each upload so browsers fetch it afresh. */
export function useOrgLogoUrl(): string {
  const { logoRevision } = useSession();
  return logoRevision ? `${api.orgLogoUrl}?v=${logoRevision}` : api.orgLogoUrl;
}

// ---- App catalogue ---------------------------------------------------------

export type CatalogState =
  | { status: 'loading' }
  | { status: 'ready'; data: AppsResponse }
  | { status: 'error'; error: ApiError };

interface CatalogValue {
  state: CatalogState;
  reload: () => void;
}

const CatalogContext = createContext<CatalogValue | null>(null);

export function CatalogProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<CatalogState>({ status: 'loading' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    setState({ status: 'loading' });
    api
      .apps({ signal: controller.signal })
      .then((data) => setState({ status: 'ready', data }))
      .catch((err: unknown) => {
        if (controller.signal.aborted) return;
        setState({ status: 'error', error: toApiError(err) });
      });
    return () => controller.abort();
  }, [attempt]);

  const reload = useCallback(() => setAttempt((n) => n + 1), []);
  const value = useMemo(() => ({ state, reload }), [state, reload]);
  return <CatalogContext.Provider value={value}>{children}</CatalogContext.Provider>;
}

export function useCatalog(): CatalogValue {
  const ctx = useContext(CatalogContext);
  if (!ctx) throw new Error('useCatalog must be used inside <CatalogProvider>');
  return ctx;
}

/** The product name from the catalogue, with a sensible default while it loads. */
export function useProductName(): string {
  const { state } = useCatalog();
  return state.status === 'ready' ? state.data.product.name : 'NEXUS';
}

export function useDocumentTitle(page: string | null) {
  const product = useProductName();
  useEffect(() => {
    document.title = page ? `${page} · ${product}` : product;
  }, [page, product]);
}
