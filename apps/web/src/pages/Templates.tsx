import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, errorText } from '../api/client';
import { useOsProfiles, useTemplates } from '../api/queries';
import type { Accepted, OsName } from '../api/types';
import { Status } from '../components/Status';
import { useSession } from '../session';

export function Templates() {
  const templates = useTemplates();
  const profiles = useOsProfiles();
  const { can } = useSession();
  const client = useQueryClient();
  const [os, setOs] = useState<OsName>('debian-12');
  const build = useMutation({
    mutationFn: () => api<Accepted>('/templates', { method: 'POST', body: { os } }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['templates'] }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    build.mutate();
  };
  return (
    <>
      <h1>Templates</h1>
      <div className="grid">
        <section className="card" aria-labelledby="tpl-h">
          <h2 id="tpl-h">Recorded templates</h2>
          <table aria-label="Templates">
            <thead>
              <tr>
                <th scope="col">OS</th>
                <th scope="col">node</th>
                <th scope="col">VMID</th>
                <th scope="col">status</th>
              </tr>
            </thead>
            <tbody>
              {(templates.data?.items ?? []).map((template) => (
                <tr key={template.id}>
                  <td>{template.os}</td>
                  <td>{template.node}</td>
                  <td>{template.vmid}</td>
                  <td>
                    <Status value={template.status} />
                    {template.error && <div className="error">{template.error}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {templates.data?.items.length === 0 && (
            <p className="muted">None built by Glassdome; VMs clone the templates TEMPLATE_VMIDS names.</p>
          )}
        </section>
        <section className="card" aria-labelledby="os-h">
          <h2 id="os-h">OS profiles</h2>
          <table aria-label="OS profiles">
            <thead>
              <tr>
                <th scope="col">OS</th>
                <th scope="col">user</th>
                <th scope="col">defaults</th>
              </tr>
            </thead>
            <tbody>
              {(profiles.data?.items ?? []).map((profile) => (
                <tr key={profile.os}>
                  <td>{profile.label}</td>
                  <td>{profile.defaultUser}</td>
                  <td>
                    {profile.cpus} vCPU, {profile.memoryMiB} MiB, {profile.diskGiB} GiB
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {can('operator') && (
            <form onSubmit={submit} className="row" style={{ marginTop: 12, alignItems: 'flex-end' }}>
              <label style={{ margin: 0 }}>
                Build a template for
                <select value={os} onChange={(event) => setOs(event.target.value as OsName)}>
                  {(profiles.data?.items ?? []).map((profile) => (
                    <option key={profile.os} value={profile.os}>
                      {profile.label}
                    </option>
                  ))}
                </select>
              </label>
              <button type="submit" className="primary" disabled={build.isPending}>
                Build template
              </button>
            </form>
          )}
          {build.error && (
            <p className="notice error" role="alert">
              {errorText(build.error)}
            </p>
          )}
        </section>
      </div>
    </>
  );
}
