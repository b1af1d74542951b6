import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type CopyDemand, type NodeCapacity, placeCopies } from './place';

const TEMPLATES = ['ubuntu-22.04', 'debian-12', 'kali'];

const node = (name: string, freeMemoryMiB: number, extra: Partial<NodeCapacity> = {}): NodeCapacity => ({
  node: name,
  online: true,
  freeMemoryMiB,
  freeStorageGiB: 100_000,
  runningClones: 0,
  templates: new Set(TEMPLATES),
  ...extra,
});

const nodesArb: fc.Arbitrary<NodeCapacity[]> = fc
  .uniqueArray(fc.constantFrom('pve01', 'pve02', 'pve03', 'pve04', 'pve05'), { minLength: 1, maxLength: 5 })
  .chain((names) =>
    fc.tuple(
      ...names.map((name) =>
        fc.record({
          node: fc.constant(name),
          online: fc.boolean(),
          freeMemoryMiB: fc.integer({ min: 0, max: 64 * 1024 }),
          freeStorageGiB: fc.integer({ min: 0, max: 2048 }),
          runningClones: fc.integer({ min: 0, max: 40 }),
          templates: fc.subarray(TEMPLATES).map((list) => new Set(list)),
        }),
      ),
    ),
  );

const copiesArb: fc.Arbitrary<CopyDemand[]> = fc
  .array(
    fc.record({
      memoryMiB: fc.integer({ min: 256, max: 16 * 1024 }),
      diskGiB: fc.integer({ min: 10, max: 400 }),
      vms: fc.integer({ min: 1, max: 10 }),
      templates: fc.subarray(TEMPLATES, { minLength: 1 }),
    }),
    { minLength: 1, maxLength: 30 },
  )
  .map((copies) => copies.map((copy, index) => ({ ...copy, copy: index })));

describe('placeCopies', () => {
  it('places every copy on one online node that holds its templates, never past a node’s free memory', () => {
    fc.assert(
      fc.property(nodesArb, copiesArb, (nodes, copies) => {
        const result = placeCopies(nodes, copies);
        if (!result.ok) return;
        assert.equal(result.nodeOfCopy.size, copies.length);
        const used = new Map<string, number>();
        const disk = new Map<string, number>();
        for (const copy of copies) {
          const chosen = nodes.find((n) => n.node === result.nodeOfCopy.get(copy.copy));
          assert.ok(chosen, `copy ${copy.copy} placed on a node that does not exist`);
          assert.ok(chosen.online);
          for (const template of copy.templates) assert.ok(chosen.templates.has(template));
          used.set(chosen.node, (used.get(chosen.node) ?? 0) + copy.memoryMiB);
          disk.set(chosen.node, (disk.get(chosen.node) ?? 0) + copy.diskGiB);
        }
        for (const n of nodes) {
          assert.ok((used.get(n.node) ?? 0) <= n.freeMemoryMiB);
          assert.ok((disk.get(n.node) ?? 0) <= n.freeStorageGiB);
        }
      }),
    );
  });

  it('refuses only a copy that no node could still take, and names the copy', () => {
    fc.assert(
      fc.property(nodesArb, copiesArb, (nodes, copies) => {
        const result = placeCopies(nodes, copies);
        if (result.ok) return;
        assert.ok(copies.some((c) => c.copy === result.copy));
        assert.match(result.reason, new RegExp(`^copy ${result.copy} needs`));
        const copy = copies.find((c) => c.copy === result.copy)!;
        // Even with the whole cluster to itself, no node fits it — or the copies placed before it
        // (larger or equal ones) took the room.
        const fitsAlone = nodes.some(
          (n) =>
            n.online &&
            n.freeMemoryMiB >= copy.memoryMiB &&
            n.freeStorageGiB >= copy.diskGiB &&
            copy.templates.every((t) => n.templates.has(t)),
        );
        if (fitsAlone) {
          const before = copies.filter((c) => c.memoryMiB >= copy.memoryMiB && c.copy !== copy.copy);
          assert.ok(before.length > 0, 'a copy that fits an empty node was refused with nothing placed before it');
        }
      }),
    );
  });

  it('spreads copies evenly over equal nodes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 60 }), (nodeCount, copyCount) => {
        const nodes = Array.from({ length: nodeCount }, (_, i) => node(`pve0${i + 1}`, 1_000_000));
        const copies = Array.from({ length: copyCount }, (_, copy) => ({
          copy,
          memoryMiB: 5120,
          diskGiB: 100,
          vms: 10,
          templates: ['ubuntu-22.04'],
        }));
        const result = placeCopies(nodes, copies);
        assert.ok(result.ok);
        const counts = nodes.map((n) => [...result.nodeOfCopy.values()].filter((v) => v === n.node).length);
        assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `uneven: ${counts.join(',')}`);
      }),
    );
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(nodesArb, copiesArb, (nodes, copies) => {
        assert.deepEqual(placeCopies(nodes, copies), placeCopies(nodes, [...copies].reverse()));
      }),
    );
  });

  it('prefers the node with fewer clones running when free memory is equal', () => {
    const result = placeCopies(
      [node('pve01', 8192, { runningClones: 12 }), node('pve02', 8192, { runningClones: 3 })],
      [{ copy: 0, memoryMiB: 1024, diskGiB: 20, vms: 2, templates: ['ubuntu-22.04'] }],
    );
    assert.deepEqual(result, { ok: true, nodeOfCopy: new Map([[0, 'pve02']]) });
  });

  it('skips a node without the template, the memory or the storage, and says why a copy fits nowhere', () => {
    const nodes = [
      node('pve01', 8192, { templates: new Set(['debian-12']) }),
      node('pve02', 512),
      node('pve03', 65536, { freeStorageGiB: 10 }),
      node('pve04', 65536, { online: false }),
    ];
    const result = placeCopies(nodes, [{ copy: 4, memoryMiB: 1024, diskGiB: 20, vms: 2, templates: ['ubuntu-22.04'] }]);
    assert.deepEqual(result, {
      ok: false,
      copy: 4,
      reason:
        'copy 4 needs 1024 MiB and 20 GiB on one node: pve01 has no template ubuntu-22.04, pve02 has 512 MiB and 100000 GiB free, pve03 has 65536 MiB and 10 GiB free, pve04 is offline',
    });
  });
});
