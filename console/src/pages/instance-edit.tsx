import { useEffect, useState } from 'preact/hooks'
import { seg } from '../api/client'
import { ErrorBox } from '../components/error-box'
import { Field, PemInput } from '../components/fields'
import { useAction, useApi, useLoad } from '../hooks'
import { href } from '../router'
import type { InstanceView } from '../types'

interface Form {
  id: string
  protocol: 'mqtt' | 'amqp'
  hostnames: string
  backendKind: 'embedded' | 'tcp'
  host: string
  port: string
  username: string
  /** Blank on edit = unchanged (the API never answers the stored one). */
  password: string
  vhost: string
  accessType: 'ANY_TUNNEL' | 'SINGLE_TUNNEL'
  vpcId: string
  newDeviceStatus: 'ACTIVE' | 'INACTIVE'
  autoRegisterDevices: boolean
  replaceBackendCredentials: boolean
  usernameFromCertificate: boolean
  authorization: 'off' | 'enforce'
  certificate: string
  privateKey: string
  removeCertificate: boolean
}

const EMPTY: Form = {
  id: '', protocol: 'mqtt', hostnames: '', backendKind: 'embedded', host: '', port: '', username: '', password: '', vhost: '',
  accessType: 'ANY_TUNNEL', vpcId: '', newDeviceStatus: 'ACTIVE', autoRegisterDevices: true, replaceBackendCredentials: false,
  usernameFromCertificate: false, authorization: 'off', certificate: '', privateKey: '', removeCertificate: false,
}

function formOf(i: InstanceView): Form {
  return {
    ...EMPTY,
    id: i.id, protocol: i.protocol, hostnames: i.hostnames.join('\n'), backendKind: i.backend.kind, host: i.backend.host ?? '',
    port: i.backend.port === undefined ? '' : String(i.backend.port), username: i.backend.username ?? '', vhost: i.backend.vhost ?? '',
    accessType: i.accessType, vpcId: i.vpcId ?? '', ...i.options, authorization: i.authorization?.mode ?? 'off',
  }
}

const hostnamesOf = (text: string): string[] => text.split(/[\s,]+/).map((h) => h.trim()).filter((h) => h !== '')

function backendOf(f: Form, editing: boolean): Record<string, unknown> {
  if (f.backendKind === 'embedded') return editing ? { kind: 'embedded', host: null, port: null } : { kind: 'embedded' }
  // On edit the backend is merged (JSON merge patch): null removes a member, an absent one is kept.
  const optional = (v: string): string | null | undefined => (v !== '' ? v : editing ? null : undefined)
  const backend: Record<string, unknown> = { kind: 'tcp', host: f.host, port: Number(f.port) }
  for (const [key, value] of [['username', optional(f.username)], ['vhost', optional(f.vhost)]] as const) if (value !== undefined) backend[key] = value
  if (f.password !== '') backend['password'] = f.password
  return backend
}

function bodyOf(f: Form, editing: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    hostnames: hostnamesOf(f.hostnames),
    backend: backendOf(f, editing),
    accessType: f.accessType,
    options: {
      newDeviceStatus: f.newDeviceStatus, autoRegisterDevices: f.autoRegisterDevices,
      replaceBackendCredentials: f.replaceBackendCredentials, usernameFromCertificate: f.usernameFromCertificate,
    },
    authorization: { mode: f.authorization },
  }
  if (f.vpcId !== '') body['vpcId'] = f.vpcId
  else if (editing) body['vpcId'] = null
  if (f.certificate.trim() !== '' || f.privateKey.trim() !== '') body['serverCertificate'] = { certificate: f.certificate, privateKey: f.privateKey }
  else if (editing && f.removeCertificate) body['serverCertificate'] = null
  return editing ? body : { id: f.id, protocol: f.protocol, ...body }
}

/** Create (POST) or edit (PATCH) an instance: hostnames, tunnel type, backend, options, server certificate. */
export function InstanceEditPage({ instanceId }: { instanceId?: string }) {
  const api = useApi()
  const editing = instanceId !== undefined
  const current = useLoad((a) => (instanceId === undefined ? Promise.resolve(undefined) : a.get<InstanceView>(`/v1/instances/${seg(instanceId)}`)), [instanceId])
  const [form, setForm] = useState<Form>(EMPTY)
  const action = useAction()
  useEffect(() => { if (current.data !== undefined) setForm(formOf(current.data)) }, [current.data])
  const set = <K extends keyof Form>(key: K, value: Form[K]): void => setForm((f) => ({ ...f, [key]: value }))
  const text = (key: 'id' | 'host' | 'port' | 'username' | 'password' | 'vhost' | 'vpcId') => ({
    name: key, value: form[key], onInput: (e: Event) => set(key, (e.currentTarget as HTMLInputElement).value),
  })

  const submit = (e: Event): void => {
    e.preventDefault()
    void action.run(async () => {
      if (editing) await api.call('PATCH', `/v1/instances/${seg(instanceId)}`, bodyOf(form, true))
      else await api.call('POST', '/v1/instances', bodyOf(form, false))
      location.hash = href({ page: 'instances' })
    })
  }

  return (
    <section>
      <div class="page-head"><h1>{editing ? `Edit instance ${instanceId}` : 'Create instance'}</h1></div>
      <ErrorBox error={current.error} />
      <form class="form-grid" onSubmit={submit} name="instance">
        <fieldset>
          <legend>Instance</legend>
          <Field label="Id"><input {...text('id')} required disabled={editing} pattern="[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}" /></Field>
          <Field label="Protocol">
            <select name="protocol" value={form.protocol} disabled={editing} onChange={(e) => {
              const protocol = (e.currentTarget as HTMLSelectElement).value as Form['protocol']
              setForm((f) => ({ ...f, protocol, backendKind: protocol === 'amqp' ? 'tcp' : f.backendKind }))
            }}>
              <option value="mqtt">MQTT</option><option value="amqp">AMQP 0-9-1</option>
            </select>
          </Field>
          <Field label="Hostnames (SNI)" hint="One per line; a client picks its instance by the TLS server name. *.example.com covers one level.">
            <textarea name="hostnames" rows={3} value={form.hostnames} onInput={(e) => set('hostnames', (e.currentTarget as HTMLTextAreaElement).value)} />
          </Field>
          <Field label="Tunnel type">
            <select name="accessType" value={form.accessType} onChange={(e) => set('accessType', (e.currentTarget as HTMLSelectElement).value as Form['accessType'])}>
              <option value="ANY_TUNNEL">Any Tunnel (every VPC)</option><option value="SINGLE_TUNNEL">Single Tunnel (one VPC)</option>
            </select>
          </Field>
          {form.accessType === 'SINGLE_TUNNEL' && <Field label="Bound VPC id"><input {...text('vpcId')} required /></Field>}
          <Field label="Authorization">
            <select name="authorization" value={form.authorization} onChange={(e) => set('authorization', (e.currentTarget as HTMLSelectElement).value as Form['authorization'])}>
              <option value="off">off (admission rules only)</option><option value="enforce">enforce (policies decide every action)</option>
            </select>
          </Field>
        </fieldset>
        <fieldset>
          <legend>Backend broker</legend>
          <Field label="Kind">
            <select name="backendKind" value={form.backendKind} onChange={(e) => set('backendKind', (e.currentTarget as HTMLSelectElement).value as Form['backendKind'])}>
              {form.protocol === 'mqtt' && <option value="embedded">embedded broker (aedes)</option>}
              <option value="tcp">TCP</option>
            </select>
          </Field>
          {form.backendKind === 'tcp' && <>
            <Field label="Host"><input {...text('host')} required /></Field>
            <Field label="Port"><input {...text('port')} required inputMode="numeric" pattern="[0-9]{1,5}" /></Field>
            <Field label="Username"><input {...text('username')} autocomplete="off" /></Field>
            <Field label="Password" hint={editing ? (current.data?.backend.passwordSet === true ? 'Set. Leave blank to keep it.' : 'Not set.') : 'Stored sealed; never shown again.'}>
              <input {...text('password')} type="password" autocomplete="new-password" />
            </Field>
            {form.protocol === 'amqp' && <Field label="Virtual host"><input {...text('vhost')} /></Field>}
          </>}
        </fieldset>
        {form.protocol === 'mqtt' && (
          <fieldset>
            <legend>Devices</legend>
            <Field label="New device certificates">
              <select name="newDeviceStatus" value={form.newDeviceStatus} onChange={(e) => set('newDeviceStatus', (e.currentTarget as HTMLSelectElement).value as Form['newDeviceStatus'])}>
                <option value="ACTIVE">registered ACTIVE</option><option value="INACTIVE">registered INACTIVE (refused until activated)</option>
              </select>
            </Field>
            {([
              ['autoRegisterDevices', 'Register devices on first connection'],
              ['replaceBackendCredentials', 'Log in to the broker with the backend credentials'],
              ['usernameFromCertificate', 'Username = certificate identity'],
            ] as const).map(([key, label]) => (
              <label key={key} class="inline"><input type="checkbox" name={key} checked={form[key]} onChange={(e) => set(key, (e.currentTarget as HTMLInputElement).checked)} /> {label}</label>
            ))}
          </fieldset>
        )}
        <fieldset>
          <legend>Server certificate</legend>
          <p class="muted">
            {editing && current.data?.serverCertificate !== undefined ? 'This instance has its own certificate. Upload a new pair to replace it (applies to new handshakes at once).' : 'Without one, the listener presents the default certificate for these hostnames.'}
          </p>
          <PemInput label="Certificate (PEM, chain allowed)" name="certificate" value={form.certificate} onChange={(v) => set('certificate', v)} />
          <PemInput label="Private key (PEM)" name="privateKey" value={form.privateKey} onChange={(v) => set('privateKey', v)} hint="Sent once over this page's connection and stored sealed; never shown again." />
          {editing && current.data?.serverCertificate !== undefined && (
            <label class="inline"><input type="checkbox" name="removeCertificate" checked={form.removeCertificate} onChange={(e) => set('removeCertificate', (e.currentTarget as HTMLInputElement).checked)} /> Remove the instance's own certificate</label>
          )}
        </fieldset>
        <ErrorBox error={action.error} />
        <div class="actions">
          <a class="button" href={href({ page: 'instances' })}>Cancel</a>
          <button type="submit" class="primary" disabled={action.busy}>{editing ? 'Save' : 'Create'}</button>
        </div>
      </form>
    </section>
  )
}
