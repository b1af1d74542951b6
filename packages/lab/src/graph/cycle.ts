/**
 * A dependency cycle among `nodes`, as the nodes along it with the first repeated at the end
 * (["a", "b", "a"]: a depends on b, b on a), or undefined when there is none. Iterative, so a long
 * chain cannot overflow the stack; dependencies outside `nodes` are followed like any other node.
 */
export function findCycle(
  nodes: Iterable<string>,
  dependenciesOf: (node: string) => Iterable<string>,
): string[] | undefined {
  const finished = new Set<string>();
  const onPath = new Set<string>();
  for (const start of nodes) {
    if (finished.has(start)) continue;
    const path: { node: string; pending: Iterator<string> }[] = [];
    const enter = (node: string) => {
      onPath.add(node);
      path.push({ node, pending: dependenciesOf(node)[Symbol.iterator]() });
    };
    enter(start);
    while (path.length > 0) {
      const top = path[path.length - 1]!;
      const next = top.pending.next();
      if (next.done) {
        onPath.delete(top.node);
        finished.add(top.node);
        path.pop();
      } else if (onPath.has(next.value)) {
        const from = path.findIndex((step) => step.node === next.value);
        return [...path.slice(from).map((step) => step.node), next.value];
      } else if (!finished.has(next.value)) {
        enter(next.value);
      }
    }
  }
  return undefined;
}

/** "a → b → a", the way cycles are shown to people. */
export function describeCycle(cycle: readonly string[]): string {
  return cycle.join(' → ');
}
