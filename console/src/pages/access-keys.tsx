import { useState } from 'preact/hooks'
import { seg } from '../api/client'
import { ErrorBox } from '../components/error-box'
import { Field } from '../components/fields'
import { Empty, Status, Time } from '../components/format'
import { ConfirmButton } from '../components/modal'
import { OnceSecret } from '../components/once-secret'
import { useAction, useApi, useLoad } from '../hooks'
import type { AccessKeyView, AccountView } from '../types'

/**
 * AccessKeys: create (the secret is answered once and shown once), disable/enable, delete. A key
 * signs admin calls and derives AMQP credentials; disabling or deleting one closes its clients'
 * sessions at once.
 */
export function AccessKeysPage() {
  const api = useApi()
  const keys = useLoad((a) => a.list<AccessKeyView>('/v1/access-keys'), [])
  const accounts = useLoad((a) => a.list<AccountView>('/v1/accounts').catch(() => [] as AccountView[]), [])
  const [description, setDescription] = useState('')
  const [accountId, setAccountId] = useState('root')
  const [created, setCreated] = useState<{ accessKeyId: string; accessKeySecret: string } | undefined>()
  const create = useAction()
  return (
    <section>
      <div class="page-head"><h1>AccessKeys</h1><button type="button" onClick={keys.reload}>Refresh</button></div>
      <form class="inline-form" name="create-access-key" onSubmit={(e) => {
        e.preventDefault()
        void create.run(async () => {
          setCreated(await api.call('POST', '/v1/access-keys', { accountId, ...(description !== '' ? { description } : {}) }))
          setDescription('')
          keys.reload()
        })
      }}>
        <Field label="Account">
          <select name="accountId" value={accountId} onChange={(e) => setAccountId((e.currentTarget as HTMLSelectElement).value)}>
            {(accounts.data ?? [{ id: 'root', createdAt: '' }]).map((a) => <option key={a.id} value={a.id}>{a.id}</option>)}
          </select>
        </Field>
        <Field label="Description"><input name="description" value={description} maxLength={256} onInput={(e) => setDescription((e.currentTarget as HTMLInputElement).value)} /></Field>
        <button type="submit" class="primary" disabled={create.busy}>Create AccessKey</button>
      </form>
      <ErrorBox error={create.error} />
      {created !== undefined && (
        <OnceSecret title={`AccessKey ${created.accessKeyId} created`} values={[['AccessKey id', created.accessKeyId], ['AccessKey secret', created.accessKeySecret]]} onDismiss={() => setCreated(undefined)} />
      )}
      <ErrorBox error={keys.error} />
      {keys.data?.length === 0 && <Empty what="AccessKeys" />}
      {keys.data !== undefined && keys.data.length > 0 && (
        <table>
          <thead><tr><th>AccessKey id</th><th>Account</th><th>Description</th><th>Status</th><th>Created</th><th /></tr></thead>
          <tbody>
            {keys.data.map((k) => (
              <tr key={k.accessKeyId} data-access-key={k.accessKeyId}>
                <td><code>{k.accessKeyId}</code>{k.accessKeyId === api.accessKeyId && <span class="tag">this session</span>}</td>
                <td>{k.accountId}</td>
                <td>{k.description ?? ''}</td>
                <td><Status value={k.status} /></td>
                <td><Time iso={k.createdAt} /></td>
                <td class="row-actions">
                  {k.status === 'Active'
                    ? <ConfirmButton label="Disable" message={<>Disable <code>{k.accessKeyId}</code>? Its AMQP clients are disconnected and it can no longer sign admin calls.</>} onConfirm={async () => { await api.call('PATCH', `/v1/access-keys/${seg(k.accessKeyId)}`, { status: 'Inactive' }); keys.reload() }} />
                    : <ConfirmButton label="Enable" message={<>Enable <code>{k.accessKeyId}</code> again?</>} onConfirm={async () => { await api.call('PATCH', `/v1/access-keys/${seg(k.accessKeyId)}`, { status: 'Active' }); keys.reload() }} />}
                  <ConfirmButton label="Delete" danger message={<>Delete <code>{k.accessKeyId}</code>? Its static accounts and policy attachments go with it. This cannot be undone.</>} onConfirm={async () => { await api.call('DELETE', `/v1/access-keys/${seg(k.accessKeyId)}`); keys.reload() }} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
