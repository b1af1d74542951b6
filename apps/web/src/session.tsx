/**
 * Who is signed in. The key typed at sign-in goes to the API once and is forgotten: the browser
 * keeps only the HttpOnly cookie the API sets (nothing in localStorage or sessionStorage).
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, type ReactNode, useContext, useEffect } from 'react';
import { ApiError, api } from './api/client';
import type { Role, Session } from './api/types';

interface SessionState {
  session: Session | undefined;
  loading: boolean;
  signIn(apiKey: string): Promise<void>;
  signOut(): Promise<void>;
  /** Whether the signed-in key's role is at least `role`. */
  can(role: Role): boolean;
}

/** Roles by what they may do; a role this UI does not know (e.g. a lab-scoped trainee key) ranks lowest. */
const RANK: Record<string, number> = { viewer: 0, operator: 1, admin: 2 };
const SessionContext = createContext<SessionState | undefined>(undefined);

export function SessionProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const query = useQuery({
    queryKey: ['session'],
    queryFn: async () => {
      try {
        return await api<Session>('/session');
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return null;
        throw error;
      }
    },
    staleTime: 60_000,
    retry: false,
  });
  useEffect(() => {
    const expired = () => client.setQueryData(['session'], null);
    window.addEventListener('glassdome:unauthorized', expired);
    return () => window.removeEventListener('glassdome:unauthorized', expired);
  }, [client]);
  // The session ends at its expiry even if the page stays open and idle.
  const expiresAt = query.data?.expiresAt;
  useEffect(() => {
    if (!expiresAt) return;
    const timer = setTimeout(() => client.setQueryData(['session'], null), Date.parse(expiresAt) - Date.now());
    return () => clearTimeout(timer);
  }, [expiresAt, client]);

  const signIn = useMutation({
    mutationFn: (apiKey: string) => api<Session>('/session', { method: 'POST', body: { apiKey } }),
    onSuccess: (session) => {
      client.clear();
      client.setQueryData(['session'], session);
    },
  });
  const signOut = useMutation({
    mutationFn: () => api<void>('/session', { method: 'DELETE' }),
    onSettled: () => {
      client.clear();
      client.setQueryData(['session'], null);
    },
  });
  const session = query.data ?? undefined;
  const value: SessionState = {
    session,
    loading: query.isLoading,
    signIn: async (apiKey) => {
      await signIn.mutateAsync(apiKey);
    },
    signOut: async () => {
      await signOut.mutateAsync();
    },
    can: (role) => (session ? (RANK[session.role] ?? -1) >= (RANK[role] ?? 0) : false),
  };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error('useSession outside SessionProvider');
  return state;
}
