import type { ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'
import type { AdminClient } from './api/client'
import { ApiContext, useHashRoute } from './hooks'
import { AccessKeysPage } from './pages/access-keys'
import { AccountsPage } from './pages/accounts'
import { AuditPage } from './pages/audit'
import { BlacklistPage } from './pages/blacklist'
import { CaPage } from './pages/ca'
import { CasPage } from './pages/cas'
import { ConnectionsPage } from './pages/connections'
import { InstanceEditPage } from './pages/instance-edit'
import { InstancesPage } from './pages/instances'
import { MetricsPage } from './pages/metrics'
import { PoliciesPage } from './pages/policies'
import { SignInPage } from './pages/sign-in'
import { StaticAccountsPage } from './pages/static-accounts'
import { href, type Route } from './router'

/**
 * The console. The signed-in AccessKey (id and secret) lives only in this component's state: not
 * in localStorage, sessionStorage, a cookie or the URL, so a reload or a closed tab signs out.
 */
export function App() {
  const [client, setClient] = useState<AdminClient | undefined>(undefined)
  const route = useHashRoute()
  if (client === undefined) return <SignInPage onSignedIn={setClient} />
  return (
    <ApiContext.Provider value={client}>
      <Layout route={route} accessKeyId={client.accessKeyId} onSignOut={() => setClient(undefined)}>
        <Page route={route} />
      </Layout>
    </ApiContext.Provider>
  )
}

const NAV: Array<[string, Route, Route['page'][]]> = [
  ['Instances', { page: 'instances' }, ['instances', 'instance-new', 'instance-edit', 'cas', 'ca']],
  ['Static accounts', { page: 'static-accounts' }, ['static-accounts']],
  ['AccessKeys', { page: 'access-keys' }, ['access-keys']],
  ['Accounts', { page: 'accounts' }, ['accounts']],
  ['Policies', { page: 'policies' }, ['policies']],
  ['Blacklist', { page: 'blacklist' }, ['blacklist']],
  ['Connections', { page: 'connections' }, ['connections']],
  ['Audit', { page: 'audit' }, ['audit']],
  ['Metrics', { page: 'metrics' }, ['metrics']],
]

function Layout({ route, accessKeyId, onSignOut, children }: { route: Route; accessKeyId: string; onSignOut(): void; children: ComponentChildren }) {
  return (
    <div class="layout">
      <header class="top">
        <span class="brand">Portcullis</span>
        <nav>
          {NAV.map(([label, target, pages]) => (
            <a key={label} href={href(target)} class={pages.includes(route.page) ? 'active' : ''}>{label}</a>
          ))}
        </nav>
        <span class="who">
          signed in as <code data-testid="signed-in-as">{accessKeyId}</code>{' '}
          <button type="button" class="small" onClick={onSignOut}>Sign out</button>
        </span>
      </header>
      <main>{children}</main>
    </div>
  )
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'instances': return <InstancesPage />
    case 'instance-new': return <InstanceEditPage />
    case 'instance-edit': return <InstanceEditPage instanceId={route.instanceId} />
    case 'cas': return <CasPage instanceId={route.instanceId} />
    case 'ca': return <CaPage instanceId={route.instanceId} caId={route.caId} />
    case 'static-accounts': return <StaticAccountsPage {...(route.instanceId !== undefined ? { instanceId: route.instanceId } : {})} />
    case 'access-keys': return <AccessKeysPage />
    case 'accounts': return <AccountsPage />
    case 'policies': return <PoliciesPage />
    case 'blacklist': return <BlacklistPage />
    case 'connections': return <ConnectionsPage />
    case 'audit': return <AuditPage />
    case 'metrics': return <MetricsPage />
    case 'not-found': return <p>No page <code>{route.path}</code>. <a href={href({ page: 'instances' })}>Instances</a></p>
  }
}
