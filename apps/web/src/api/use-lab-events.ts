/**
 * Follows a lab's Server-Sent Events (`GET /labs/:id/events`, cookie-authenticated, same origin)
 * and refreshes the lab's queries as events arrive, so the canvas and timeline move without a reload.
 */
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { API } from './client';

export interface LabEvent {
  id: number;
  at: string;
  kind: string;
  message: string;
  vmId: string | null;
}

export function useLabEvents(labId: string): { events: LabEvent[]; connected: boolean } {
  const client = useQueryClient();
  const [events, setEvents] = useState<LabEvent[]>([]);
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    setEvents([]);
    const source = new EventSource(`${API}/labs/${labId}/events`, { withCredentials: true });
    let pending: ReturnType<typeof setTimeout> | undefined;
    // Events come in bursts (a step starts, finishes, the next starts): one refresh per burst.
    const refresh = () => {
      if (pending) return;
      pending = setTimeout(() => {
        pending = undefined;
        void client.invalidateQueries({ queryKey: ['lab', labId] });
      }, 150);
    };
    source.onopen = () => setConnected(true);
    source.onerror = () => setConnected(false);
    source.addEventListener('progress', (message) => {
      const event = JSON.parse((message as MessageEvent<string>).data) as LabEvent;
      setEvents((list) => [...list.slice(-199), event]);
      refresh();
    });
    source.addEventListener('status', refresh);
    return () => {
      clearTimeout(pending);
      source.close();
    };
  }, [labId, client]);
  return { events, connected };
}
