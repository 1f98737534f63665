import { useState } from 'preact/hooks'
import { seg } from '../api/client'
import { ErrorBox } from '../components/error-box'
import { Empty, ShortId, Status, Time } from '../components/format'
import { ConfirmButton } from '../components/modal'
import { useAction, useApi, useInterval, useLoad } from '../hooks'
import { href } from '../router'
import type { CaView, DeviceView } from '../types'

/** Saves text as a file from the page (a Blob URL: nothing is fetched twice, nothing is kept). */
export function saveText(filename: string, text: string, type = 'application/x-pem-file'): void {
  const url = URL.createObjectURL(new Blob([text], { type }))
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

/**
 * A CA's details and the device certificates under it: download (PEM), activate, deactivate,
 * revoke. Devices register themselves on first connection, so the list refreshes on its own.
 */
export function CaPage({ instanceId, caId }: { instanceId: string; caId: string }) {
  const api = useApi()
  const base = `/v1/instances/${seg(instanceId)}`
  const ca = useLoad((a) => a.get<CaView>(`${base}/cas/${seg(caId)}`), [instanceId, caId])
  const devices = useLoad((a) => a.list<DeviceView>(`${base}/devices`, { caId }), [instanceId, caId])
  const [auto, setAuto] = useState(true)
  const download = useAction()
  useInterval(devices.reload, 3000, auto)
  const change = (verb: 'activate' | 'deactivate' | 'revoke', id: string) => async (): Promise<void> => {
    await api.call('POST', `${base}/devices/${seg(id)}/${verb}`)
    devices.reload()
  }
  return (
    <section>
      <div class="page-head">
        <h1>CA <ShortId id={caId} /></h1>
        <a class="button" href={href({ page: 'cas', instanceId })}>← CAs of {instanceId}</a>
      </div>
      <ErrorBox error={ca.error} />
      {ca.data !== undefined && (
        <dl class="facts">
          <dt>Subject</dt><dd>{ca.data.subject}</dd>
          <dt>Id (SHA-256 of the DER)</dt><dd><code>{ca.data.id}</code></dd>
          <dt>Serial</dt><dd><code>{ca.data.serialNumber}</code></dd>
          <dt>Valid</dt><dd><Time iso={ca.data.notBefore} /> – <Time iso={ca.data.notAfter} /></dd>
          <dt>Status</dt><dd><Status value={ca.data.status} /></dd>
          <dt>Registered</dt><dd><Time iso={ca.data.createdAt} /></dd>
          <dt>Certificate</dt><dd><button type="button" class="small" onClick={() => saveText(`${caId}.pem`, ca.data?.pem ?? '')}>Download PEM</button></dd>
        </dl>
      )}
      <div class="page-head">
        <h2>Device certificates</h2>
        <button type="button" onClick={devices.reload}>Refresh</button>
        <label class="inline"><input type="checkbox" checked={auto} onChange={(e) => setAuto((e.currentTarget as HTMLInputElement).checked)} /> auto-refresh</label>
      </div>
      <ErrorBox error={devices.error ?? download.error} />
      {devices.data?.length === 0 && <Empty what="device certificates yet: a device is registered when it first connects" />}
      {devices.data !== undefined && devices.data.length > 0 && (
        <table>
          <thead><tr><th>Id (SHA-256)</th><th>Common name</th><th>Serial</th><th>Valid until</th><th>Registered</th><th>Status</th><th /></tr></thead>
          <tbody>
            {devices.data.map((d) => (
              <tr key={d.id} data-device={d.id} data-status={d.status}>
                <td><ShortId id={d.id} /></td>
                <td>{d.commonName ?? d.subject}</td>
                <td><code>{d.serialNumber}</code></td>
                <td><Time iso={d.notAfter} /></td>
                <td>{d.registeredBy} <Time iso={d.createdAt} /></td>
                <td><Status value={d.status} /></td>
                <td class="row-actions">
                  <button type="button" onClick={() => void download.run(async () => {
                    const res = await api.send('GET', `${base}/devices/${seg(d.id)}?format=pem`)
                    saveText(`${d.id}.pem`, await res.text())
                  })}>Download PEM</button>
                  {d.status === 'INACTIVE' && <ConfirmButton label="Activate" message={<>Activate device <strong>{d.commonName ?? d.id}</strong>? It may connect again.</>} onConfirm={change('activate', d.id)} />}
                  {d.status === 'ACTIVE' && <ConfirmButton label="Deactivate" message={<>Deactivate device <strong>{d.commonName ?? d.id}</strong>? Its sessions close now and it is refused until activated.</>} onConfirm={change('deactivate', d.id)} />}
                  {d.status !== 'REVOKED' && <ConfirmButton label="Revoke" danger message={<>Revoke device <strong>{d.commonName ?? d.id}</strong>? Its sessions close now. Revocation is final: the certificate can never be activated again.</>} onConfirm={change('revoke', d.id)} />}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
