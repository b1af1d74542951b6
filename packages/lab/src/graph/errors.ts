import { describeCycle } from './cycle';

/** The graph is not a DAG of known tasks: a dependency names no task, an id repeats, or tasks form a cycle. */
export class LabGraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabGraphError';
  }
}

/** The graph's tasks depend on each other in a circle, so none of them could ever start. */
export class LabGraphCycleError extends LabGraphError {
  constructor(readonly cycle: readonly string[]) {
    super(`task cycle: ${describeCycle(cycle)}`);
    this.name = 'LabGraphCycleError';
  }
}
