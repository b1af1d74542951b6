import { activeDirectory } from './active-directory';
import { networkForensics } from './network-forensics';
import type { LabCatalogEntry } from './types';
import { webPentest } from './web-pentest';

export type { LabCatalogEntry } from './types';

/** The built-in labs served by `GET /api/v1/lab-templates`. */
export const LAB_CATALOG: readonly LabCatalogEntry[] = [webPentest, activeDirectory, networkForensics];

/** The built-in lab with this id, or undefined. */
export function resolveCatalogTemplate(id: string): LabCatalogEntry | undefined {
  return LAB_CATALOG.find((entry) => entry.id === id);
}
