import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useLocation } from 'wouter';
import { api, errorText } from '../api/client';
import { useFeatures } from '../api/features';
import { useCatalog } from '../api/queries';
import type { Accepted, CatalogEntry, DryRun } from '../api/types';
import { useSession } from '../session';

interface Parameters {
  name?: string;
  copies?: number;
  ttl?: string;
  traineeKeys: string[];
}

/**
 * Deploys a catalog lab with parameters. Where the API takes `{template, parameters}` it gets them
 * as they are; otherwise the lab's spec is fetched with a dry run and deployed with the parameters
 * written into it (copies, TTL, and the trainee keys added to every VM).
 */
async function deployFromCatalog(entry: CatalogEntry, params: Parameters, withParameters: boolean) {
  if (withParameters) {
    const parameters: Record<string, unknown> = {};
    if (params.copies) parameters.copies = params.copies;
    if (params.ttl) parameters.ttl = params.ttl;
    if (params.traineeKeys.length > 0) parameters.traineeKeys = params.traineeKeys;
    return api<Accepted>('/labs', {
      method: 'POST',
      body: { template: entry.id, ...(params.name ? { name: params.name } : {}), parameters },
    });
  }
  const plan = await api<DryRun>('/labs?dryRun=true', { method: 'POST', body: { template: entry.id } });
  const spec = structuredClone(plan.spec) as Record<string, unknown> & { vms: Record<string, unknown>[] };
  if (params.name) spec.name = params.name;
  if (params.copies) spec.copies = params.copies;
  if (params.ttl) spec.ttl = params.ttl;
  delete spec.ttlSeconds;
  if (params.traineeKeys.length > 0) {
    for (const vm of spec.vms) {
      const cloudInit = (vm.cloudInit ?? {}) as { sshKeys?: string[] };
      vm.cloudInit = { ...cloudInit, sshKeys: [...(cloudInit.sshKeys ?? []), ...params.traineeKeys] };
    }
  }
  return api<Accepted>('/labs', { method: 'POST', body: spec });
}

function DeployForm({ entry }: { entry: CatalogEntry }) {
  const features = useFeatures();
  const [, navigate] = useLocation();
  const [open, setOpen] = useState(false);
  const deploy = useMutation({
    mutationFn: (params: Parameters) =>
      deployFromCatalog(entry, params, features.bodyMentions('/labs', 'post', 'parameters')),
    onSuccess: (answer) => navigate(`/labs/${answer.id}`),
  });
  if (!open)
    return (
      <button type="button" className="primary" onClick={() => setOpen(true)} aria-label={`Deploy ${entry.title}`}>
        Deploy…
      </button>
    );
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const text = (name: string) => String(data.get(name) ?? '').trim();
    deploy.mutate({
      ...(text('name') ? { name: text('name') } : {}),
      ...(text('copies') ? { copies: Number(text('copies')) } : {}),
      ...(text('ttl') ? { ttl: text('ttl') } : {}),
      traineeKeys: text('keys')
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean),
    });
  };
  return (
    <form onSubmit={submit} aria-label={`Deploy ${entry.id}`}>
      <div className="grid" style={{ gridTemplateColumns: '2fr 1fr 1fr' }}>
        <label>
          Lab name
          <input name="name" placeholder={entry.id} />
        </label>
        <label>
          Copies
          <input name="copies" type="number" min={1} max={100} defaultValue={1} />
        </label>
        <label>
          TTL
          <input name="ttl" placeholder="8h" pattern="\d+[mhd]" />
        </label>
      </div>
      <label>
        Trainee SSH public keys (one per line)
        <textarea name="keys" rows={2} />
      </label>
      {deploy.error && (
        <p className="notice error" role="alert">
          {errorText(deploy.error)}
        </p>
      )}
      <div className="row">
        <button type="submit" className="primary" disabled={deploy.isPending}>
          Deploy {entry.id}
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function Catalog() {
  const catalog = useCatalog();
  const { can } = useSession();
  return (
    <>
      <h1>Lab catalog</h1>
      {catalog.error && <p className="error">{errorText(catalog.error)}</p>}
      <div className="grid">
        {(catalog.data?.items ?? []).map((entry) => (
          <section key={entry.id} className="card" aria-labelledby={`cat-${entry.id}`}>
            <h2 id={`cat-${entry.id}`}>{entry.title}</h2>
            <p className="muted">
              <code>{entry.id}</code> · {entry.vmCount} VM{entry.vmCount === 1 ? '' : 's'} per copy
            </p>
            <p>{entry.description}</p>
            {can('operator') && <DeployForm entry={entry} />}
          </section>
        ))}
      </div>
    </>
  );
}
