import { useState } from 'preact/hooks'
import { seg } from '../api/client'
import { ErrorBox } from '../components/error-box'
import { Field } from '../components/fields'
import { Empty, Time } from '../components/format'
import { ConfirmButton } from '../components/modal'
import { OnceSecret } from '../components/once-secret'
import { createAccountBody, passwordFor } from '../crypto/create-account'
import { useAction, useApi, useLoad } from '../hooks'
import { href } from '../router'
import type { InstanceView, StaticAccountView } from '../types'

/**
 * Static AMQP users (CreateAccount, DESIGN §1). The AccessKey secret typed here is used by the
 * page to compute `signature` and `secretSign` (crypto/create-account.ts) and then forgotten: the
 * request carries only those proofs. The password the API answers is shown once, after the page
 * checked it against its own derivation.
 */
export function StaticAccountsPage({ instanceId }: { instanceId?: string }) {
  const instances = useLoad((a) => a.list<InstanceView>('/v1/instances'), [])
  const amqp = (instances.data ?? []).filter((i) => i.protocol === 'amqp')
  return (
    <section>
      <div class="page-head">
        <h1>Static accounts</h1>
        <label class="inline">Instance{' '}
          <select name="instance" value={instanceId ?? ''} onChange={(e) => { location.hash = href({ page: 'static-accounts', instanceId: (e.currentTarget as HTMLSelectElement).value }) }}>
            <option value="" disabled>choose an AMQP instance</option>
            {amqp.map((i) => <option key={i.id} value={i.id}>{i.id}</option>)}
          </select>
        </label>
      </div>
      <ErrorBox error={instances.error} />
      {instances.data !== undefined && amqp.length === 0 && <Empty what="AMQP instances" />}
      {instanceId !== undefined && <InstanceStaticAccounts key={instanceId} instanceId={instanceId} />}
    </section>
  )
}

function InstanceStaticAccounts({ instanceId }: { instanceId: string }) {
  const api = useApi()
  const base = `/v1/instances/${seg(instanceId)}/static-accounts`
  const accounts = useLoad((a) => a.list<StaticAccountView>(base), [instanceId])
  const [accessKeyId, setAccessKeyId] = useState('')
  const [secret, setSecret] = useState('')
  const [created, setCreated] = useState<{ userName: string; password: string; accessKey: string; createTimestamp: number; matches: boolean } | undefined>()
  const create = useAction()
  const submit = (e: Event): void => {
    e.preventDefault()
    void create.run(async () => {
      const createTimestamp = Date.now()
      const body = await createAccountBody({ instanceId, accessKeyId: accessKeyId.trim(), accessKeySecret: secret, createTimestamp })
      const expected = await passwordFor(secret, String(createTimestamp))
      setSecret('')
      const answer = await api.call<{ userName: string; password: string; accessKey: string; createTimestamp: number }>('POST', base, body)
      setCreated({ ...answer, matches: answer.password === expected && answer.userName === body.userName })
      setAccessKeyId('')
      accounts.reload()
    })
  }
  return (
    <>
      <form class="inline-form" name="create-static-account" onSubmit={submit} autocomplete="off">
        <Field label="AccessKey id"><input name="accountAccessKey" value={accessKeyId} required onInput={(e) => setAccessKeyId((e.currentTarget as HTMLInputElement).value)} /></Field>
        <Field label="AccessKey secret" hint="Used here to sign the request (signature, secretSign); not sent, not kept.">
          <input name="accessKeySecret" type="password" autocomplete="off" value={secret} required onInput={(e) => setSecret((e.currentTarget as HTMLInputElement).value)} />
        </Field>
        <button type="submit" class="primary" disabled={create.busy}>Create static account</button>
      </form>
      <ErrorBox error={create.error} />
      {created !== undefined && (
        <OnceSecret
          title={`Static account for ${created.accessKey} (${created.matches ? 'password matches the derivation in this page' : 'WARNING: the password does not match the derivation in this page'})`}
          values={[['userName', created.userName], ['password', created.password], ['createTimestamp', String(created.createTimestamp)]]}
          onDismiss={() => setCreated(undefined)}
        />
      )}
      <ErrorBox error={accounts.error} />
      {accounts.data?.length === 0 && <Empty what="static accounts on this instance" />}
      {accounts.data !== undefined && accounts.data.length > 0 && (
        <table>
          <thead><tr><th>AccessKey</th><th>userName</th><th>createTimestamp</th><th>Created</th><th /></tr></thead>
          <tbody>
            {accounts.data.map((s) => (
              <tr key={s.accessKey} data-static-account={s.accessKey}>
                <td><code>{s.accessKey}</code></td>
                <td><code>{s.userName}</code></td>
                <td>{s.createTimestamp}</td>
                <td><Time iso={s.createdAt} /></td>
                <td class="row-actions">
                  <ConfirmButton label="Delete" danger message={<>Delete the static account of <code>{s.accessKey}</code>? Clients using it are disconnected; to change it, delete and create again.</>} onConfirm={async () => { await api.call('DELETE', `${base}/${seg(s.accessKey)}`); accounts.reload() }} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  )
}
