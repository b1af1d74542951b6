import { lazy, Suspense } from 'react';
import { Link, Route, Switch, useRoute } from 'wouter';
import styles from './App.module.css';
import { Alerts } from './pages/Alerts';
import { Catalog } from './pages/Catalog';
import { Dashboard } from './pages/Dashboard';
import { Keys } from './pages/Keys';
import { QuickDeploy } from './pages/QuickDeploy';
import { SignIn } from './pages/SignIn';
import { Templates } from './pages/Templates';
import { useSession } from './session';

// The canvas, the designer and the terminal carry the heavy libraries: loaded when first opened.
const LabView = lazy(() => import('./pages/LabView'));
const VmView = lazy(() => import('./pages/VmView'));
const Designer = lazy(() => import('./pages/Designer'));

function NavLink({ href, children }: { href: string; children: string }) {
  const [active] = useRoute(href === '/' ? '/' : `${href}/*?`);
  return (
    <Link
      href={href}
      className={`${styles.link} link ${active ? `${styles.active} active` : ''}`}
      aria-current={active ? 'page' : undefined}
    >
      {children}
    </Link>
  );
}

export function App() {
  const { session, loading, signOut, can } = useSession();
  if (loading)
    return (
      <p className="muted" style={{ padding: 20 }}>
        Loading…
      </p>
    );
  if (!session) return <SignIn />;
  return (
    <div className={styles.shell}>
      <a className={styles.skip} href="#main">
        Skip to content
      </a>
      <nav className={styles.nav} aria-label="Main">
        <Link href="/" className={styles.brand}>
          <img src="/favicon.svg" alt="" width={22} height={22} /> Glassdome
        </Link>
        <NavLink href="/">Dashboard</NavLink>
        {can('operator') && <NavLink href="/deploy">Quick deploy</NavLink>}
        <NavLink href="/catalog">Catalog</NavLink>
        {can('operator') && <NavLink href="/designer">Lab designer</NavLink>}
        <NavLink href="/templates">Templates</NavLink>
        <NavLink href="/alerts">Alerts</NavLink>
        {can('admin') && <NavLink href="/keys">API keys</NavLink>}
        {can('admin') && (
          <a className={`${styles.link} link`} href="/admin/queues" target="_blank" rel="noreferrer">
            Bull Board ↗
          </a>
        )}
        <div className={styles.who}>
          <div>
            Signed in as <strong data-testid="who">{session.name}</strong>
          </div>
          <div>
            role <strong data-testid="role">{session.role}</strong> · project{' '}
            <strong data-testid="project">{session.project}</strong>
          </div>
          <button type="button" style={{ marginTop: 8 }} onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </nav>
      <main id="main" className={styles.main}>
        <Suspense fallback={<p className="muted">Loading…</p>}>
          <Switch>
            <Route path="/" component={Dashboard} />
            <Route path="/deploy" component={QuickDeploy} />
            <Route path="/catalog" component={Catalog} />
            <Route path="/designer" component={Designer} />
            <Route path="/templates" component={Templates} />
            <Route path="/alerts" component={Alerts} />
            <Route path="/keys" component={Keys} />
            <Route path="/labs/:id">{(params) => <LabView id={params.id} />}</Route>
            <Route path="/vms/:id">{(params) => <VmView id={params.id} />}</Route>
            <Route>
              <h1>Not found</h1>
              <Link href="/">Back to the dashboard</Link>
            </Route>
          </Switch>
        </Suspense>
      </main>
    </div>
  );
}
