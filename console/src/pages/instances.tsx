import { useState } from 'preact/hooks'
import { seg } from '../api/client'
import { ErrorBox } from '../components/error-box'
import { Empty, Time } from '../components/format'
import { ConfirmButton } from '../components/modal'
import { useApi, useLoad } from '../hooks'
import { href } from '../router'
import type { InstanceView } from '../types'

/** Instances: tunnel type, hostnames (SNI), backend, server certificate; links to their CAs or static accounts. */
export function InstancesPage() {
  const api = useApi()
  const list = useLoad((a) => a.list<InstanceView>('/v1/instances'), [])
  const [force, setForce] = useState(false)
  return (
    <section>
      <div class="page-head">
        <h1>Instances</h1>
        <a class="button primary" href={href({ page: 'instance-new' })}>Create instance</a>
        <button type="button" onClick={list.reload}>Refresh</button>
      </div>
      <ErrorBox error={list.error} />
      {list.data?.length === 0 && <Empty what="instances" />}
      {list.data !== undefined && list.data.length > 0 && (
        <table>
          <thead><tr><th>Id</th><th>Protocol</th><th>Hostnames (SNI)</th><th>Tunnel</th><th>Backend</th><th>Server certificate</th><th>Authorization</th><th>Updated</th><th /></tr></thead>
          <tbody>
            {list.data.map((i) => (
              <tr key={i.id} data-instance={i.id}>
                <td><strong>{i.id}</strong></td>
                <td>{i.protocol}</td>
                <td>{i.hostnames.length === 0 ? <span class="muted">none</span> : i.hostnames.map((h) => <code key={h} class="tag">{h}</code>)}</td>
                <td>{i.accessType === 'SINGLE_TUNNEL' ? <>Single Tunnel <code>{i.vpcId}</code></> : 'Any Tunnel'}</td>
                <td>{i.backend.kind === 'embedded' ? 'embedded broker' : `${i.backend.host ?? '?'}:${i.backend.port ?? '?'}`}{i.backend.tls !== undefined && i.backend.tls !== false ? ' (TLS)' : ''}</td>
                <td>{i.serverCertificate !== undefined ? 'own certificate' : <span class="muted">default</span>}</td>
                <td>{i.authorization?.mode ?? 'off'}</td>
                <td><Time iso={i.updatedAt} /></td>
                <td class="row-actions">
                  <a class="button" href={href({ page: 'instance-edit', instanceId: i.id })}>Edit</a>
                  {i.protocol === 'mqtt'
                    ? <a class="button" href={href({ page: 'cas', instanceId: i.id })}>CAs &amp; devices</a>
                    : <a class="button" href={href({ page: 'static-accounts', instanceId: i.id })}>Static accounts</a>}
                  <ConfirmButton
                    label="Delete"
                    danger
                    message={<>
                      Delete instance <strong>{i.id}</strong>? Its clients can no longer connect.
                      <label class="inline"><input type="checkbox" checked={force} onChange={(e) => setForce((e.currentTarget as HTMLInputElement).checked)} /> force (also when ACTIVE CAs or devices remain)</label>
                    </>}
                    onConfirm={async () => {
                      await api.call('DELETE', `/v1/instances/${seg(i.id)}${force ? '?force=true' : ''}`)
                      list.reload()
                    }}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
