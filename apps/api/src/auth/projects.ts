import type { Request } from 'express';
import { z } from 'zod';
import { ApiError } from '../errors';

/** A project's name: lowercase letters, digits and dashes, as in a DNS label. */
export const projectName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be 1-63 lowercase letters, digits and dashes');

/**
 * The project a request creates things in: its key's own project; an admin may name another with
 * `?project=` (created on first use). Any other key naming a project not its own is refused.
 */
export async function projectOfRequest(req: Request, requested: string | undefined): Promise<string> {
  const principal = req.principal!;
  if (requested === undefined || requested === principal.project) return principal.project;
  if (principal.role !== 'admin') {
    throw new ApiError(403, 'forbidden', `this key acts in project ${principal.project} only`);
  }
  return requested;
}
