/**
 * A bounded subset of `pnpm chaos`, run by `pnpm test`: the small variants of three scenarios (the
 * fault-free control among them, whose dual-homed lab VMs need SDN.Use on the zone for the deploy
 * token and its user), each with a Redis, a Postgres, a simulator and Glassdome processes of its own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runScenario, type Scenario } from '../scenario';
import { redisWipe } from '../scenarios/backing';
import { baseline } from '../scenarios/baseline';
import { deleteDuringDeploy } from '../scenarios/lifecycle';

const SUBSET: Scenario[] = [baseline, redisWipe, deleteDuringDeploy];

for (const scenario of SUBSET) {
  test(`chaos ${scenario.name}: ${scenario.title}`, async () => {
    const result = await runScenario(scenario, 'small', `${scenario.name}-e2e`);
    assert.deepEqual(result.problems, [], JSON.stringify(result, null, 2));
    assert.equal(result.duplicates, 0);
    assert.equal(result.leakedLeases, 0);
    assert.equal(result.leakedVms, 0);
    assert.equal(result.counts.stale, 0);
  });
}
