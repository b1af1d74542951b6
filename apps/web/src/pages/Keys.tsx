import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, errorText } from '../api/client';
import { useFeatures } from '../api/features';
import type { ApiKey, CreatedKey } from '../api/types';
import { ConfirmButton } from '../components/Confirm';
import { ago } from '../components/time';

export function Keys() {
  const client = useQueryClient();
  const features = useFeatures();
  const keys = useQuery({ queryKey: ['keys'], queryFn: () => api<{ items: ApiKey[] }>('/keys') });
  // A new key is shown once, from memory only: never written to storage.
  const [created, setCreated] = useState<CreatedKey>();
  const withProject = features.bodyMentions('/keys', 'post', 'project');
  const create = useMutation({
    mutationFn: (body: Record<string, string>) => api<CreatedKey>('/keys', { method: 'POST', body }),
    onSuccess: (key) => {
      setCreated(key);
      void client.invalidateQueries({ queryKey: ['keys'] });
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const body: Record<string, string> = { name: String(data.get('name')), role: String(data.get('role')) };
    if (withProject && data.get('project')) body.project = String(data.get('project'));
    create.mutate(body);
  };
  return (
    <>
      <h1>API keys</h1>
      <div className="grid">
        <section className="card" aria-labelledby="keys-h">
          <h2 id="keys-h">Keys</h2>
          <table aria-label="API keys">
            <thead>
              <tr>
                <th scope="col">name</th>
                <th scope="col">prefix</th>
                <th scope="col">role</th>
                <th scope="col">created</th>
                <th scope="col">state</th>
                <th scope="col">actions</th>
              </tr>
            </thead>
            <tbody>
              {(keys.data?.items ?? []).map((key) => (
                <tr key={key.id}>
                  <td>{key.name}</td>
                  <td className="mono">{key.prefix}…</td>
                  <td>{key.role}</td>
                  <td>{ago(key.createdAt)}</td>
                  <td>{key.revokedAt ? 'revoked' : 'live'}</td>
                  <td>
                    {!key.revokedAt && (
                      <ConfirmButton
                        label="Revoke"
                        title={`Revoke ${key.name}?`}
                        danger
                        onConfirm={async () => {
                          await api(`/keys/${key.id}`, { method: 'DELETE' });
                          await client.invalidateQueries({ queryKey: ['keys'] });
                        }}
                      >
                        <p>Every request and web session with this key stops working at once.</p>
                      </ConfirmButton>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section className="card" aria-labelledby="newkey-h">
          <h2 id="newkey-h">New key</h2>
          <form onSubmit={submit}>
            <label>
              Name
              <input name="name" required />
            </label>
            <label>
              Role
              <select name="role" defaultValue="operator">
                <option value="viewer">viewer: reads</option>
                <option value="operator">operator: deploys and destroys</option>
                <option value="admin">admin: everything, keys too</option>
              </select>
            </label>
            {withProject && (
              <label>
                Project
                <input name="project" />
              </label>
            )}
            <button type="submit" className="primary" disabled={create.isPending}>
              Create key
            </button>
          </form>
          {create.error && (
            <p className="notice error" role="alert">
              {errorText(create.error)}
            </p>
          )}
          {created && (
            <div className="notice" role="status">
              <p>
                Key for <strong>{created.name}</strong> ({created.role}). Copy it now: it is not shown again.
              </p>
              <label>
                New API key
                <input
                  readOnly
                  value={created.key}
                  onFocus={(event) => event.currentTarget.select()}
                  className="mono"
                />
              </label>
              <button type="button" onClick={() => setCreated(undefined)}>
                Done
              </button>
            </div>
          )}
        </section>
      </div>
    </>
  );
}
