import { useState } from 'preact/hooks'
import { seg } from '../api/client'
import { ErrorBox } from '../components/error-box'
import { Field } from '../components/fields'
import { Empty, Time } from '../components/format'
import { ConfirmButton } from '../components/modal'
import { useAction, useApi, useLoad } from '../hooks'
import type { BlacklistEntry } from '../types'

const KINDS = ['accessKey', 'account', 'username', 'clientId', 'certFingerprint', 'ip'] as const

/** The blacklist: an entry refuses new connections (BLACKLISTED) and closes matching live sessions. */
export function BlacklistPage() {
  const api = useApi()
  const [includeExpired, setIncludeExpired] = useState(false)
  const entries = useLoad((a) => a.list<BlacklistEntry>('/v1/blacklist', { includeExpired: includeExpired ? 'true' : undefined }), [includeExpired])
  const [form, setForm] = useState({ kind: 'clientId' as string, value: '', instanceId: '', reason: '', ttlMinutes: '' })
  const add = useAction()
  const set = (key: keyof typeof form) => (e: Event) => setForm((f) => ({ ...f, [key]: (e.currentTarget as HTMLInputElement).value }))
  return (
    <section>
      <div class="page-head">
        <h1>Blacklist</h1>
        <button type="button" onClick={entries.reload}>Refresh</button>
        <label class="inline"><input type="checkbox" checked={includeExpired} onChange={(e) => setIncludeExpired((e.currentTarget as HTMLInputElement).checked)} /> include expired</label>
      </div>
      <form class="inline-form" name="add-blacklist" onSubmit={(e) => {
        e.preventDefault()
        void add.run(async () => {
          const minutes = Number(form.ttlMinutes)
          await api.call('POST', '/v1/blacklist', {
            kind: form.kind, value: form.value,
            ...(form.instanceId !== '' ? { instanceId: form.instanceId } : {}),
            ...(form.reason !== '' ? { reason: form.reason } : {}),
            ...(form.ttlMinutes !== '' && minutes > 0 ? { expiresAt: new Date(Date.now() + minutes * 60_000).toISOString() } : {}),
          })
          setForm((f) => ({ ...f, value: '', reason: '' }))
          entries.reload()
        })
      }}>
        <Field label="Kind"><select name="kind" value={form.kind} onChange={set('kind')}>{KINDS.map((k) => <option key={k} value={k}>{k}</option>)}</select></Field>
        <Field label="Value"><input name="value" value={form.value} required onInput={set('value')} /></Field>
        <Field label="Instance (optional)"><input name="instanceId" value={form.instanceId} onInput={set('instanceId')} /></Field>
        <Field label="Reason"><input name="reason" value={form.reason} onInput={set('reason')} /></Field>
        <Field label="Expires in (minutes)"><input name="ttlMinutes" value={form.ttlMinutes} inputMode="numeric" onInput={set('ttlMinutes')} /></Field>
        <button type="submit" class="primary" disabled={add.busy}>Add</button>
      </form>
      <ErrorBox error={add.error} />
      <ErrorBox error={entries.error} />
      {entries.data?.length === 0 && <Empty what="blacklist entries" />}
      {entries.data !== undefined && entries.data.length > 0 && (
        <table>
          <thead><tr><th>Kind</th><th>Value</th><th>Instance</th><th>Reason</th><th>By</th><th>Added</th><th>Expires</th><th /></tr></thead>
          <tbody>
            {entries.data.map((b) => (
              <tr key={b.id} data-blacklist={b.id} class={b.expired ? 'expired' : ''}>
                <td>{b.kind}</td>
                <td><code>{b.value}</code></td>
                <td>{b.instanceId ?? <span class="muted">all</span>}</td>
                <td>{b.reason ?? ''}</td>
                <td><code>{b.actor ?? ''}</code></td>
                <td><Time iso={b.createdAt} /></td>
                <td>{b.expiresAt === undefined ? <span class="muted">never</span> : <Time iso={b.expiresAt} />}{b.expired && ' (expired)'}</td>
                <td class="row-actions">
                  <ConfirmButton label="Remove" danger message={<>Remove the {b.kind} entry <code>{b.value}</code>? Matching clients may connect again.</>} onConfirm={async () => { await api.call('DELETE', `/v1/blacklist/${seg(b.id)}`); entries.reload() }} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
