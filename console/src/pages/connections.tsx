import { useState } from 'preact/hooks'
import { seg } from '../api/client'
import { ErrorBox } from '../components/error-box'
import { Empty, ShortId, Time } from '../components/format'
import { ConfirmButton } from '../components/modal'
import { useApi, useInterval, useLoad } from '../hooks'
import type { SessionView } from '../types'

/** Live sessions of every replica, with kick (`DELETE /v1/connections/{id}`, audited ADMIN_KICK). */
export function ConnectionsPage() {
  const api = useApi()
  const [instanceId, setInstanceId] = useState('')
  const [auto, setAuto] = useState(true)
  const sessions = useLoad((a) => a.list<SessionView>('/v1/connections', { instanceId }), [instanceId])
  useInterval(sessions.reload, 3000, auto)
  return (
    <section>
      <div class="page-head">
        <h1>Live connections</h1>
        <label class="inline">Instance <input name="instanceId" value={instanceId} placeholder="all" onChange={(e) => setInstanceId((e.currentTarget as HTMLInputElement).value.trim())} /></label>
        <button type="button" onClick={sessions.reload}>Refresh</button>
        <label class="inline"><input type="checkbox" checked={auto} onChange={(e) => setAuto((e.currentTarget as HTMLInputElement).checked)} /> auto-refresh</label>
        <span class="muted">{sessions.data?.length ?? 0} live</span>
      </div>
      <ErrorBox error={sessions.error} />
      {sessions.data?.length === 0 && <Empty what="live connections" />}
      {sessions.data !== undefined && sessions.data.length > 0 && (
        <table>
          <thead><tr><th>Connection</th><th>Instance</th><th>Protocol</th><th>Identity</th><th>Source</th><th>Started</th><th>Replica</th><th /></tr></thead>
          <tbody>
            {sessions.data.map((s) => (
              <tr key={s.connId} data-conn={s.connId} data-client-id={s.clientId ?? ''}>
                <td><code>{s.connId}</code></td>
                <td>{s.instanceId}</td>
                <td>{s.protocol}</td>
                <td class="identity">
                  {s.clientId !== undefined && <div>clientId <code>{s.clientId}</code></div>}
                  {s.certCommonName !== undefined && <div>CN <code>{s.certCommonName}</code></div>}
                  {s.deviceId !== undefined && <div>device <ShortId id={s.deviceId} /></div>}
                  {s.accessKeyId !== undefined && <div>AccessKey <code>{s.accessKeyId}</code></div>}
                  {s.username !== undefined && <div>user <code>{s.username.length > 40 ? `${s.username.slice(0, 40)}…` : s.username}</code></div>}
                  {s.vhost !== undefined && <div>vhost <code>{s.vhost}</code></div>}
                </td>
                <td><code>{s.sourceIp}:{s.sourcePort}</code>{s.vpcId !== undefined && <> VPC <code>{s.vpcId}</code></>}</td>
                <td><Time iso={s.startedAt} /></td>
                <td><code>{s.processId}</code></td>
                <td class="row-actions">
                  <ConfirmButton label="Kick" danger message={<>Close connection <code>{s.connId}</code> ({s.clientId ?? s.accessKeyId ?? s.sourceIp})? The client may reconnect unless a rule refuses it.</>} onConfirm={async () => { await api.call('DELETE', `/v1/connections/${seg(s.connId)}`); sessions.reload() }} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
