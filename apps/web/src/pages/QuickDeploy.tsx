import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useLocation } from 'wouter';
import { ApiError, api, errorText } from '../api/client';
import { useOsProfiles } from '../api/queries';
import type { Accepted, OsName, VmRequest } from '../api/types';

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

export function QuickDeploy() {
  const profiles = useOsProfiles();
  const [, navigate] = useLocation();
  const [os, setOs] = useState<OsName>('ubuntu-22.04');
  const [issues, setIssues] = useState<Record<string, string>>({});
  const profile = profiles.data?.items.find((item) => item.os === os);
  const deploy = useMutation({
    mutationFn: (body: VmRequest) => api<Accepted>('/vms', { method: 'POST', body }),
    onSuccess: (answer) => navigate(`/vms/${answer.id}`),
    onError: (error) =>
      setIssues(error instanceof ApiError ? Object.fromEntries(error.issues.map((i) => [i.path, i.message])) : {}),
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const text = (name: string) => String(data.get(name) ?? '').trim();
    const number = (name: string) => (text(name) ? Number(text(name)) : undefined);
    const body: Record<string, unknown> = { name: text('name'), os };
    for (const field of ['cpus', 'memoryMiB', 'diskGiB']) if (number(field) !== undefined) body[field] = number(field);
    const cloudInit: Record<string, unknown> = {};
    if (text('user')) cloudInit.user = text('user');
    if (lines(text('sshKeys')).length > 0) cloudInit.sshKeys = lines(text('sshKeys'));
    if (lines(text('packages').replaceAll(/[ ,]+/g, '\n')).length > 0)
      cloudInit.packages = lines(text('packages').replaceAll(/[ ,]+/g, '\n'));
    if (Object.keys(cloudInit).length > 0) body.cloudInit = cloudInit;
    if (lines(text('provision')).length > 0) body.provision = lines(text('provision')).map((run) => ({ run }));
    setIssues({});
    deploy.mutate(body as VmRequest);
  };
  const invalid = (path: string) =>
    issues[path] ? { 'aria-invalid': true as const, 'aria-describedby': `err-${path}` } : {};
  const issue = (path: string) =>
    issues[path] ? (
      <span id={`err-${path}`} className="error">
        {issues[path]}
      </span>
    ) : null;
  return (
    <>
      <h1>Quick deploy</h1>
      <form className="card" style={{ maxWidth: 640 }} onSubmit={submit} aria-label="Quick deploy a VM">
        <div className="grid" style={{ gridTemplateColumns: '1fr 1fr' }}>
          <label>
            Name
            <input name="name" required pattern="[a-z0-9][a-z0-9-]*" {...invalid('name')} />
            {issue('name')}
          </label>
          <label>
            OS
            <select name="os" value={os} onChange={(event) => setOs(event.target.value as OsName)}>
              {(profiles.data?.items ?? []).map((item) => (
                <option key={item.os} value={item.os}>
                  {item.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            vCPUs
            <input
              name="cpus"
              type="number"
              min={1}
              max={64}
              placeholder={String(profile?.cpus ?? '')}
              {...invalid('cpus')}
            />
            {issue('cpus')}
          </label>
          <label>
            Memory (MiB)
            <input
              name="memoryMiB"
              type="number"
              min={256}
              step={256}
              placeholder={String(profile?.memoryMiB ?? '')}
              {...invalid('memoryMiB')}
            />
            {issue('memoryMiB')}
          </label>
          <label>
            Disk (GiB)
            <input
              name="diskGiB"
              type="number"
              min={1}
              placeholder={String(profile?.diskGiB ?? '')}
              {...invalid('diskGiB')}
            />
            {issue('diskGiB')}
          </label>
          <label>
            Login user
            <input name="user" placeholder={profile?.defaultUser} {...invalid('cloudInit.user')} />
            {issue('cloudInit.user')}
          </label>
        </div>
        <label>
          SSH public keys (one per line)
          <textarea name="sshKeys" rows={2} {...invalid('cloudInit.sshKeys.0')} />
          {issue('cloudInit.sshKeys.0')}
        </label>
        <label>
          Packages (space separated)
          <input name="packages" {...invalid('cloudInit.packages.0')} />
        </label>
        <label>
          Provisioning commands (one per line, run as root)
          <textarea name="provision" rows={3} />
        </label>
        {deploy.error && (
          <p className="notice error" role="alert">
            {errorText(deploy.error)}
          </p>
        )}
        <button type="submit" className="primary" disabled={deploy.isPending}>
          Deploy VM
        </button>
      </form>
    </>
  );
}
