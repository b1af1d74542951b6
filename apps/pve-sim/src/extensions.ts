/** Extensions `pnpm sim` starts with the API: the SSH side (node shell and SSH-reachable guests, src/ssh/). */
import type { Logger } from '@glassdome/logger';
import type { SimEnv } from './env';
import type { SimulatorExtension } from './index';
import { sshExtension } from './ssh/extension';

export function defaultExtensions(env: SimEnv, logger: Logger): SimulatorExtension[] {
  return [
    sshExtension({
      logger: logger.child({ component: 'ssh' }),
      ...(env.PVE_SIM_SSH_AUTHORIZED_KEYS ? { authorizedKeysPath: env.PVE_SIM_SSH_AUTHORIZED_KEYS } : {}),
      ...(env.PVE_SIM_SSH_KEY_FILE ? { clientKeyPath: env.PVE_SIM_SSH_KEY_FILE } : {}),
    }),
  ];
}
