/**
 * The asynchronous lists (`cmd &`) a shell started, as a shell without job control keeps them (POSIX
 * 2.9.3.1 and `wait`): each known by a pid, `$!` naming the last one, `wait` collecting their statuses.
 */
export class ShellJobs {
  /** Started and not yet waited for, by pid. */
  private readonly running = new Map<number, Promise<number>>();
  /** `$!`: the pid of the last list started (unset before the first). */
  lastPid: number | undefined;

  constructor(private nextPid: number) {}

  /** Records a list that is running now (`done` resolves with its status); returns its pid. */
  started(done: Promise<number>): number {
    const pid = this.nextPid++;
    this.running.set(pid, done);
    this.lastPid = pid;
    return pid;
  }

  /**
   * `wait`: with no pid, waits for every list started and answers 0; with pids, waits for each and
   * answers the status of the last one, 127 for a pid not known (never started, or already waited
   * for). A waited-for pid is forgotten.
   */
  async wait(pids?: number[]): Promise<number> {
    if (!pids) {
      await this.settled();
      return 0;
    }
    let code = 0;
    for (const pid of pids) {
      const job = this.running.get(pid);
      this.running.delete(pid);
      code = job ? await job : 127;
    }
    return code;
  }

  /** Resolves once every list started so far, and any started meanwhile, has ended. */
  async settled(): Promise<void> {
    while (this.running.size > 0) {
      const jobs = [...this.running.values()];
      this.running.clear();
      await Promise.all(jobs);
    }
  }
}
