export { addNodeTemplates, NODE_TEMPLATE_BASE_VMID } from './node-templates';
export { freePort } from './ports';
export { type ProcessOptions, type RunningProcess, startProcess } from './process';
export { type AppName, appArgs, ensureBuilt, NODE_FLAGS, type RunFrom, repoRoot, runFrom, tsxArgs } from './repo';
export { type RunningServices, type ServicesOptions, startServices, WORKER_ONLY_VARIABLES } from './services';
export { simulatorRoot } from './sim-root';
export {
  type LocalSimulator,
  type LocalSimulatorInfo,
  type SimulatorOptions,
  simulatorEnv,
  startSimulator,
} from './simulator';
export { addOsTemplates, OS_TEMPLATE_VMIDS, OS_TEMPLATES } from './templates';
export { waitFor } from './wait';
