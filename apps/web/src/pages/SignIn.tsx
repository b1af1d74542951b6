import { type FormEvent, useState } from 'react';
import { errorText } from '../api/client';
import { useSession } from '../session';

export function SignIn() {
  const { signIn } = useSession();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const input = form.elements.namedItem('apiKey') as HTMLInputElement;
    setBusy(true);
    setError(undefined);
    try {
      await signIn(input.value.trim());
      input.value = '';
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main style={{ display: 'grid', placeItems: 'center', minHeight: '100vh' }}>
      <form className="card" style={{ width: 420 }} onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title" className="row">
          <img src="/favicon.svg" alt="" width={28} height={28} /> Sign in to Glassdome
        </h1>
        <p className="muted">
          Paste an API key (<code>pnpm start</code> prints the admin key). It is exchanged for a session cookie and not
          kept by the browser.
        </p>
        <label>
          API key
          <input name="apiKey" type="password" autoComplete="off" required spellCheck={false} />
        </label>
        {error && (
          <p className="notice error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
