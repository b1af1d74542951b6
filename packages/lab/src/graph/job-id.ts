/**
 * A BullMQ job id for one task of one lab deployment. BullMQ refuses custom ids with ':' (it
 * separates Redis key parts) unless they split into exactly three parts, and task ids have up to
 * four; resource names never contain '.', so swapping ':' for '.' keeps ids unique and readable.
 */
export function taskJobId(labId: string, taskId: string): string {
  return `lab.${labId}.${taskId}`.replaceAll(':', '.');
}
