/**
 * Extensions `pnpm sim` starts with the API. The SSH side (host shell and guests, src/ssh/) plugs
 * in here once it exports its starter.
 */
import type { SimulatorExtension } from './index';

export const defaultExtensions: SimulatorExtension[] = [];
