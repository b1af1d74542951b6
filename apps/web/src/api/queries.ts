import { useQuery } from '@tanstack/react-query';
import { api } from './client';
import type {
  Alert,
  CatalogEntry,
  LabDetail,
  LabSummary,
  OsProfile,
  SystemStatus,
  Template,
  Topology,
  Vm,
} from './types';

/** How often lists refresh while on screen: the dashboard is live without an event stream of its own. */
export const LIVE_MS = 3_000;

type Page<T> = { items: T[] };

export const useLabs = () =>
  useQuery({ queryKey: ['labs'], queryFn: () => api<Page<LabSummary>>('/labs?limit=200'), refetchInterval: LIVE_MS });
export const useVms = () =>
  useQuery({ queryKey: ['vms'], queryFn: () => api<Page<Vm>>('/vms?limit=200'), refetchInterval: LIVE_MS });
export const useVm = (id: string) =>
  useQuery({ queryKey: ['vm', id], queryFn: () => api<Vm>(`/vms/${id}`), refetchInterval: 1_500 });
export const useAlerts = (state?: string) =>
  useQuery({
    queryKey: ['alerts', state ?? 'all'],
    queryFn: () => api<Page<Alert>>(`/alerts?limit=200${state ? `&state=${state}` : ''}`),
    refetchInterval: LIVE_MS * 2,
  });
export const useSystemStatus = (enabled: boolean) =>
  useQuery({
    queryKey: ['system-status'],
    queryFn: () => api<SystemStatus>('/system/status'),
    refetchInterval: LIVE_MS,
    enabled,
  });
export const useLab = (id: string) =>
  useQuery({ queryKey: ['lab', id, 'detail'], queryFn: () => api<LabDetail>(`/labs/${id}`), refetchInterval: 10_000 });
export const useTopology = (id: string) =>
  useQuery({
    queryKey: ['lab', id, 'topology'],
    queryFn: () => api<Topology>(`/labs/${id}/topology`),
    staleTime: 60_000,
  });
export const useOsProfiles = () =>
  useQuery({ queryKey: ['os-profiles'], queryFn: () => api<Page<OsProfile>>('/os-profiles'), staleTime: 60_000 });
export const useTemplates = () =>
  useQuery({ queryKey: ['templates'], queryFn: () => api<Page<Template>>('/templates'), refetchInterval: LIVE_MS * 2 });
export const useCatalog = () =>
  useQuery({ queryKey: ['catalog'], queryFn: () => api<Page<CatalogEntry>>('/lab-templates'), staleTime: 60_000 });
