/**
 * Changing a running lab's life: `PATCH /labs/:id {ttl}` moves its expiry (longer or shorter, within
 * the project's TTL quota, counted from when the lab was created or claimed), and testing mode widens
 * its egress for a while (`POST /labs/:id/testing`) or ends that now (`DELETE /labs/:id/testing`).
 */
import { appendEvent, getLabExtras, setLabExpiry } from '@glassdome/db';
import { durationSeconds, formatDuration, MAX_TESTING_SECONDS, parseStoredLabSpec } from '@glassdome/lab';
import { requestTestingStart, requestTestingStop, testingOf } from '@glassdome/lab-run';
import { Router } from 'express';
import type { ApiContext } from '../context';
import { ConflictError, ValidationError } from '../errors';
import { labPatchBody, labTestingBody } from '../exercise-schemas';
import { accept, JSON_TYPES } from '../http/body';
import { parseInput } from '../http/validate';
import { presentLab } from '../present';
import { relayNow, requireRedis } from '../services/enqueue';
import { answerOperation, projectQuotas, refusalAsHttp, visibleLab } from '../services/exercises';
import { QuotaExceededError } from '../services/quotas';

export function labLifecycleRoutes(ctx: ApiContext): Router {
  const router = Router();

  router.patch('/labs/:id', accept(JSON_TYPES), async (req, res) => {
    const lab = await visibleLab(ctx, req);
    const body = parseInput(labPatchBody, req.body ?? {}, 'body');
    if (['destroying', 'destroyed'].includes(lab.status)) {
      throw new ConflictError(`a ${lab.status} lab has no TTL left to change`);
    }
    const ttlSeconds = durationSeconds(body.ttl)!;
    const extras = await getLabExtras(ctx.db, lab.id);
    const now = new Date();
    const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
    // A lab's life is counted from when it was created, or claimed from a pool.
    const born = extras?.claimed_at ?? lab.created_at;
    const lifetime = Math.ceil((expiresAt.getTime() - born.getTime()) / 1000);
    const quotas = await projectQuotas(ctx, lab.project);
    if (lifetime > quotas.maxLabTtlSeconds) {
      throw new QuotaExceededError('maxLabTtlSeconds', lab.project, {
        limit: quotas.maxLabTtlSeconds,
        requested: lifetime,
      });
    }
    await setLabExpiry(ctx.db, lab.id, expiresAt);
    await appendEvent(ctx.db, {
      labId: lab.id,
      kind: 'lab.ttl.changed',
      message: `expiry moved from ${lab.expires_at?.toISOString() ?? 'never'} to ${expiresAt.toISOString()} (${body.ttl} from now)`,
    });
    res.json({ ...presentLab({ ...lab, expires_at: expiresAt }), previousExpiresAt: lab.expires_at });
  });

  router.get('/labs/:id/testing', async (req, res) => {
    const lab = await visibleLab(ctx, req);
    res.json({ labId: lab.id, testing: testingOf((await getLabExtras(ctx.db, lab.id))?.testing) });
  });

  router.post('/labs/:id/testing', accept(JSON_TYPES), async (req, res) => {
    const lab = await visibleLab(ctx, req);
    const body = parseInput(labTestingBody, req.body ?? {}, 'body');
    const seconds = durationSeconds(body.duration)!;
    if (seconds > MAX_TESTING_SECONDS) {
      throw new ValidationError([
        { path: 'duration', message: `must be at most ${formatDuration(MAX_TESTING_SECONDS)}` },
      ]);
    }
    const known = new Set(parseStoredLabSpec(lab.spec).networks.map((n) => n.name));
    const unknown = (body.networks ?? []).filter((name) => !known.has(name));
    if (unknown.length > 0) {
      throw new ValidationError([{ path: 'networks', message: `not networks of this lab: ${unknown.join(', ')}` }]);
    }
    requireRedis(ctx.producer);
    const requested = await requestTestingStart(ctx.db, {
      labId: lab.id,
      egress: body.egress,
      ...(body.networks ? { networks: body.networks } : {}),
      durationSeconds: seconds,
      requestedBy: req.principal!.keyId,
    }).catch(refusalAsHttp);
    res.status(202).json(await answerOperation(ctx, req, lab.id, 'testing-start', requested));
  });

  router.delete('/labs/:id/testing', async (req, res) => {
    const lab = await visibleLab(ctx, req);
    requireRedis(ctx.producer);
    const stop = await requestTestingStop(ctx.db, { labId: lab.id, requestedBy: req.principal!.keyId }).catch(
      refusalAsHttp,
    );
    await relayNow(ctx, req);
    res.status(202).json({
      labId: lab.id,
      operationId: stop.operationId,
      jobId: stop.jobId,
      kind: 'testing-stop',
      status: 'queued',
      links: { operation: `/api/v1/labs/${lab.id}/operations/${stop.operationId}` },
    });
  });

  return router;
}
