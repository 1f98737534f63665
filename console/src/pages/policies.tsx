import { useState } from 'preact/hooks'
import { seg } from '../api/client'
import { ErrorBox } from '../components/error-box'
import { Field } from '../components/fields'
import { Empty, Time } from '../components/format'
import { ConfirmButton } from '../components/modal'
import { useAction, useApi, useLoad } from '../hooks'
import type { AttachmentView, PolicyView } from '../types'

const EXAMPLE = JSON.stringify([
  { effect: 'Allow', actions: ['mqtt:Publish', 'mqtt:Subscribe', 'mqtt:Receive'], resources: ['mqtt:plant-1:topic/devices/${certCommonName}/#'] },
], null, 2)

/**
 * Policies (DESIGN §4): create or replace one (PUT), see its statements and attachments, attach
 * it to a principal (`account:<id>`, `accessKey:<id>`, `instance:<id>`, `ca:<instance>/<caId>`,
 * `device:<instance>/<deviceId>`), detach, delete (refused while attached).
 */
export function PoliciesPage() {
  const api = useApi()
  const policies = useLoad((a) => a.list<PolicyView>('/v1/policies'), [])
  const [selected, setSelected] = useState<string | undefined>()
  const [name, setName] = useState('')
  const [statements, setStatements] = useState(EXAMPLE)
  const put = useAction()
  const edit = (p: PolicyView): void => {
    setName(p.name)
    setStatements(JSON.stringify(p.statements, null, 2))
  }
  return (
    <section>
      <div class="page-head"><h1>Policies</h1><button type="button" onClick={policies.reload}>Refresh</button></div>
      <div class="columns editor">
        <div>
          <ErrorBox error={policies.error} />
          {policies.data?.length === 0 && <Empty what="policies" />}
          {policies.data !== undefined && policies.data.length > 0 && (
            <table>
              <thead><tr><th>Name</th><th>Version</th><th>Statements</th><th>Updated</th><th /></tr></thead>
              <tbody>
                {policies.data.map((p) => (
                  <tr key={p.name} data-policy={p.name} class={selected === p.name ? 'selected' : ''}>
                    <td><strong>{p.name}</strong></td>
                    <td>{p.version}</td>
                    <td>{p.statements.map((s, i) => <div key={i} class="statement"><span class={`effect-${s.effect.toLowerCase()}`}>{s.effect}</span> {s.actions.join(', ')} on {s.resources.join(', ')}</div>)}</td>
                    <td><Time iso={p.updatedAt} /></td>
                    <td class="row-actions">
                      <button type="button" onClick={() => setSelected(p.name)}>Attachments</button>
                      <button type="button" onClick={() => edit(p)}>Edit</button>
                      <ConfirmButton label="Delete" danger message={<>Delete policy <strong>{p.name}</strong>? Refused while it is attached.</>} onConfirm={async () => { await api.call('DELETE', `/v1/policies/${seg(p.name)}`); if (selected === p.name) setSelected(undefined); policies.reload() }} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {selected !== undefined && <Attachments key={selected} policy={selected} />}
        </div>
        <form class="card" name="put-policy" onSubmit={(e) => {
          e.preventDefault()
          void put.run(async () => {
            let parsed: unknown
            try {
              parsed = JSON.parse(statements)
            } catch (err) {
              throw new Error(`the statements are not JSON: ${(err as Error).message}`)
            }
            await api.call('PUT', `/v1/policies/${seg(name)}`, { statements: parsed })
            setSelected(name)
            policies.reload()
          })
        }}>
          <h2>Create or replace</h2>
          <Field label="Name"><input name="policyName" value={name} required onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} /></Field>
          <Field label="Statements (JSON)" hint="effect Allow|Deny, actions (mqtt:Publish, amqp:Consume, admin:RevokeDevice, admin:*…), resources with * wildcards.">
            <textarea name="statements" rows={12} spellcheck={false} value={statements} onInput={(e) => setStatements((e.currentTarget as HTMLTextAreaElement).value)} />
          </Field>
          <ErrorBox error={put.error} />
          <button type="submit" class="primary" disabled={put.busy}>Save policy</button>
        </form>
      </div>
    </section>
  )
}

function Attachments({ policy }: { policy: string }) {
  const api = useApi()
  const base = `/v1/policies/${seg(policy)}/attachments`
  const attachments = useLoad((a) => a.list<AttachmentView>(base), [policy])
  const [principal, setPrincipal] = useState('')
  const attach = useAction()
  return (
    <div class="card" data-attachments={policy}>
      <h2>Attachments of {policy}</h2>
      <form class="inline-form" name="attach-policy" onSubmit={(e) => {
        e.preventDefault()
        void attach.run(async () => {
          await api.call('POST', base, { principal })
          setPrincipal('')
          attachments.reload()
        })
      }}>
        <Field label="Principal"><input name="principal" value={principal} required placeholder="account:fleet" onInput={(e) => setPrincipal((e.currentTarget as HTMLInputElement).value)} /></Field>
        <button type="submit" class="primary" disabled={attach.busy}>Attach</button>
      </form>
      <ErrorBox error={attach.error ?? attachments.error} />
      {attachments.data?.length === 0 && <Empty what="attachments" />}
      {attachments.data !== undefined && attachments.data.length > 0 && (
        <table>
          <thead><tr><th>Principal</th><th>Attached</th><th /></tr></thead>
          <tbody>
            {attachments.data.map((a) => (
              <tr key={a.principal} data-principal={a.principal}>
                <td><code>{a.principal}</code></td>
                <td><Time iso={a.createdAt} /></td>
                <td class="row-actions">
                  <ConfirmButton label="Detach" danger message={<>Detach <strong>{policy}</strong> from <code>{a.principal}</code>? What it granted stops at once, live sessions included.</>} onConfirm={async () => { await api.call('DELETE', `${base}/${seg(a.principal)}`); attachments.reload() }} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}
