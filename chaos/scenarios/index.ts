/** Every chaos scenario, in the order `pnpm chaos` runs them. */
import type { Scenario } from '../scenario';
import { postgresDownLong, postgresRestart, redisOutage, redisWipe } from './backing';
import { baseline } from './baseline';
import { deleteDuringDeploy, destroyAfterFailedDestroy } from './lifecycle';
import {
  gatewayKillLab,
  installerKillDeploy,
  installerKillLab,
  sigtermHandback,
  stackRestartMidLab,
} from './processes';
import { agentNeverUp, proxmox5xx, storageLockTimeouts } from './simulator';

export const SCENARIOS: Scenario[] = [
  baseline,
  installerKillDeploy,
  installerKillLab,
  gatewayKillLab,
  sigtermHandback,
  redisOutage,
  postgresRestart,
  redisWipe,
  postgresDownLong,
  proxmox5xx,
  storageLockTimeouts,
  agentNeverUp,
  deleteDuringDeploy,
  destroyAfterFailedDestroy,
  stackRestartMidLab,
];
