/**
 * Where a lab's copies go on a cluster of several nodes. Pure: the caller reads the nodes (free
 * memory, clones running, templates present) and applies the answer.
 *
 * A copy's VMs stay on one node (their lab networks then never leave it, and a copy is as fast as its
 * node); copies are spread. Each copy in turn, largest first, goes to the eligible node with the most
 * free memory left after what this placement already put there, then the fewest clones running or
 * placed there, then by name — so copies of a class spread evenly over equal nodes and fill a
 * bigger node more. A node is eligible when it is online, holds every template the copy clones
 * (on its own storage or one shared with it: a linked clone is made where its template's disk is)
 * and has the memory and the storage space the copy's VMs ask for.
 */

export interface NodeCapacity {
  node: string;
  online: boolean;
  /** Memory not in use on the node now, in MiB. */
  freeMemoryMiB: number;
  /** Space free on the storage the node's clones go to, in GiB. */
  freeStorageGiB: number;
  /** VMs running or being cloned on the node now (ours and anyone's). */
  runningClones: number;
  /** Templates a clone may be made from on this node: present on it or on storage shared with it. */
  templates: ReadonlySet<string>;
}

export interface CopyDemand {
  copy: number;
  /** What the copy's VMs ask for together, in MiB. */
  memoryMiB: number;
  /** Disk the copy's VMs may grow to together, in GiB. */
  diskGiB: number;
  /** How many VMs the copy clones. */
  vms: number;
  /** The templates its VMs clone. */
  templates: readonly string[];
}

export type PlacementResult =
  | { ok: true; nodeOfCopy: Map<number, string> }
  | { ok: false; copy: number; reason: string };

interface NodeLoad {
  capacity: NodeCapacity;
  freeMiB: number;
  freeGiB: number;
  clones: number;
}

function missingTemplate(node: NodeCapacity, copy: CopyDemand): string | undefined {
  return copy.templates.find((template) => !node.templates.has(template));
}

/** Why no node takes the copy, naming each node's reason (for the lab's error). */
function refusal(loads: NodeLoad[], copy: CopyDemand): string {
  const reasons = loads.map(({ capacity, freeMiB, freeGiB }) => {
    if (!capacity.online) return `${capacity.node} is offline`;
    const missing = missingTemplate(capacity, copy);
    if (missing) return `${capacity.node} has no template ${missing}`;
    return `${capacity.node} has ${Math.floor(freeMiB)} MiB and ${Math.floor(freeGiB)} GiB free`;
  });
  return `copy ${copy.copy} needs ${copy.memoryMiB} MiB and ${copy.diskGiB} GiB on one node: ${reasons.join(', ') || 'no nodes'}`;
}

/** Places every copy, or says which copy fits nowhere and why. */
export function placeCopies(nodes: readonly NodeCapacity[], copies: readonly CopyDemand[]): PlacementResult {
  const loads: NodeLoad[] = nodes.map((capacity) => ({
    capacity,
    freeMiB: capacity.freeMemoryMiB,
    freeGiB: capacity.freeStorageGiB,
    clones: capacity.runningClones,
  }));
  const nodeOfCopy = new Map<number, string>();
  // Largest first: the big copies choose while there is room, the small ones fill the gaps.
  const order = [...copies].sort((a, b) => b.memoryMiB - a.memoryMiB || a.copy - b.copy);
  for (const copy of order) {
    const eligible = loads.filter(
      (load) =>
        load.capacity.online &&
        load.freeMiB >= copy.memoryMiB &&
        load.freeGiB >= copy.diskGiB &&
        missingTemplate(load.capacity, copy) === undefined,
    );
    if (eligible.length === 0) return { ok: false, copy: copy.copy, reason: refusal(loads, copy) };
    const best = eligible.reduce((a, b) => (better(b, a, copy) ? b : a));
    best.freeMiB -= copy.memoryMiB;
    best.freeGiB -= copy.diskGiB;
    best.clones += copy.vms;
    nodeOfCopy.set(copy.copy, best.capacity.node);
  }
  return { ok: true, nodeOfCopy };
}

/** Whether `a` is a better home for the copy than `b`. */
function better(a: NodeLoad, b: NodeLoad, copy: CopyDemand): boolean {
  const freeA = a.freeMiB - copy.memoryMiB;
  const freeB = b.freeMiB - copy.memoryMiB;
  if (freeA !== freeB) return freeA > freeB;
  if (a.clones !== b.clones) return a.clones < b.clones;
  return a.capacity.node < b.capacity.node;
}
