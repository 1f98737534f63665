import { useState } from 'preact/hooks'
import { seg } from '../api/client'
import { ErrorBox } from '../components/error-box'
import { Field } from '../components/fields'
import { Empty, Time } from '../components/format'
import { ConfirmButton } from '../components/modal'
import { useAction, useApi, useLoad } from '../hooks'
import type { AccountView } from '../types'

/** Accounts (DESIGN §4): `root` and sub-accounts; AccessKeys belong to one, policies attach to them. */
export function AccountsPage() {
  const api = useApi()
  const accounts = useLoad((a) => a.list<AccountView>('/v1/accounts'), [])
  const [form, setForm] = useState({ id: '', displayName: '', parentId: 'root' })
  const create = useAction()
  const set = (key: keyof typeof form) => (e: Event) => setForm((f) => ({ ...f, [key]: (e.currentTarget as HTMLInputElement).value }))
  return (
    <section>
      <div class="page-head"><h1>Accounts</h1><button type="button" onClick={accounts.reload}>Refresh</button></div>
      <form class="inline-form" name="create-account" onSubmit={(e) => {
        e.preventDefault()
        void create.run(async () => {
          await api.call('POST', '/v1/accounts', { id: form.id, parentId: form.parentId, ...(form.displayName !== '' ? { displayName: form.displayName } : {}) })
          setForm({ id: '', displayName: '', parentId: form.parentId })
          accounts.reload()
        })
      }}>
        <Field label="Id"><input name="id" value={form.id} required onInput={set('id')} /></Field>
        <Field label="Display name"><input name="displayName" value={form.displayName} onInput={set('displayName')} /></Field>
        <Field label="Parent">
          <select name="parentId" value={form.parentId} onChange={set('parentId')}>{(accounts.data ?? []).map((a) => <option key={a.id} value={a.id}>{a.id}</option>)}</select>
        </Field>
        <button type="submit" class="primary" disabled={create.busy}>Create account</button>
      </form>
      <ErrorBox error={create.error} />
      <ErrorBox error={accounts.error} />
      {accounts.data?.length === 0 && <Empty what="accounts" />}
      {accounts.data !== undefined && accounts.data.length > 0 && (
        <table>
          <thead><tr><th>Id</th><th>Display name</th><th>Parent</th><th>Created</th><th /></tr></thead>
          <tbody>
            {accounts.data.map((a) => (
              <tr key={a.id} data-account={a.id}>
                <td><strong>{a.id}</strong></td>
                <td>{a.displayName ?? ''}</td>
                <td>{a.parentId ?? <span class="muted">—</span>}</td>
                <td><Time iso={a.createdAt} /></td>
                <td class="row-actions">
                  {a.id !== 'root' && <ConfirmButton label="Delete" danger message={<>Delete account <strong>{a.id}</strong>? Refused while it has sub-accounts or AccessKeys; its policy attachments are removed.</>} onConfirm={async () => { await api.call('DELETE', `/v1/accounts/${seg(a.id)}`); accounts.reload() }} />}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
