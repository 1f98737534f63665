import { useState } from 'preact/hooks'
import { seg } from '../api/client'
import { ErrorBox } from '../components/error-box'
import { PemInput, Field } from '../components/fields'
import { Empty, ShortId, Status, Time } from '../components/format'
import { ConfirmButton, Modal } from '../components/modal'
import { useAction, useApi, useLoad } from '../hooks'
import { href } from '../router'
import type { CaView } from '../types'

/** DESIGN §1: at most 32 CA certificates on one instance. */
const MAX_CAS = 32

/** The CA list of an MQTT instance: register (dialog), activate, deactivate, delete, details. */
export function CasPage({ instanceId }: { instanceId: string }) {
  const api = useApi()
  const cas = useLoad((a) => a.list<CaView>(`/v1/instances/${seg(instanceId)}/cas`), [instanceId])
  const [registering, setRegistering] = useState(false)
  const base = `/v1/instances/${seg(instanceId)}/cas`
  return (
    <section>
      <div class="page-head">
        <h1>CA certificates of <code>{instanceId}</code></h1>
        <button type="button" class="primary" onClick={() => setRegistering(true)} disabled={(cas.data?.length ?? 0) >= MAX_CAS}>Register CA</button>
        <button type="button" onClick={cas.reload}>Refresh</button>
        <span class="muted">{cas.data?.length ?? 0} of {MAX_CAS}</span>
      </div>
      <ErrorBox error={cas.error} />
      {cas.data?.length === 0 && <Empty what="CA certificates: register one so devices can connect" />}
      {cas.data !== undefined && cas.data.length > 0 && (
        <table>
          <thead><tr><th>Id (SHA-256)</th><th>Subject</th><th>Serial</th><th>Valid from</th><th>Valid until</th><th>Status</th><th /></tr></thead>
          <tbody>
            {cas.data.map((ca) => (
              <tr key={ca.id} data-ca={ca.id}>
                <td><a href={href({ page: 'ca', instanceId, caId: ca.id })}><ShortId id={ca.id} /></a></td>
                <td>{ca.subject}</td>
                <td><code>{ca.serialNumber}</code></td>
                <td><Time iso={ca.notBefore} /></td>
                <td><Time iso={ca.notAfter} /></td>
                <td><Status value={ca.status} /></td>
                <td class="row-actions">
                  <a class="button" href={href({ page: 'ca', instanceId, caId: ca.id })}>Details</a>
                  {ca.status === 'ACTIVE'
                    ? <ConfirmButton label="Deactivate" message={<>Deactivate CA <strong>{ca.subject}</strong>? Devices under it are refused, and those connected now are disconnected.</>} onConfirm={async () => { await api.call('POST', `${base}/${seg(ca.id)}/deactivate`); cas.reload() }} />
                    : <ConfirmButton label="Activate" message={<>Activate CA <strong>{ca.subject}</strong>? Devices under it may connect again.</>} onConfirm={async () => { await api.call('POST', `${base}/${seg(ca.id)}/activate`); cas.reload() }} />}
                  <ConfirmButton label="Delete" danger message={<>Delete CA <strong>{ca.subject}</strong>? Refused while it has ACTIVE device certificates; its INACTIVE and REVOKED device records are deleted with it.</>} onConfirm={async () => { await api.call('DELETE', `${base}/${seg(ca.id)}`); cas.reload() }} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {registering && <RegisterCaDialog instanceId={instanceId} onClose={() => setRegistering(false)} onRegistered={() => { setRegistering(false); cas.reload() }} />}
    </section>
  )
}

/**
 * The registration dialog (DESIGN §1): get the instance's registration code, make a verification
 * certificate whose CN is that code with the CA's key (openssl, on the operator's machine: the CA
 * key never comes near the page), upload the CA certificate with it.
 */
function RegisterCaDialog({ instanceId, onClose, onRegistered }: { instanceId: string; onClose(): void; onRegistered(): void }) {
  const api = useApi()
  const [code, setCode] = useState<{ registrationCode: string; expiresAt: string } | undefined>()
  const [caPem, setCaPem] = useState('')
  const [verificationPem, setVerificationPem] = useState('')
  const [status, setStatus] = useState<'ACTIVE' | 'INACTIVE'>('ACTIVE')
  const getCode = useAction()
  const register = useAction()
  const commands = code === undefined ? '' : [
    `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout verif.key \\`,
    `  -subj "/CN=${code.registrationCode}" -out verif.csr`,
    `openssl x509 -req -in verif.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out verif.pem`,
  ].join('\n')
  return (
    <Modal title={`Register a CA on ${instanceId}`} onClose={onClose} wide>
      <ol class="steps">
        <li>
          <h3>Registration code</h3>
          <p class="muted">Single use, valid for one hour; asking for a new one invalidates the previous code.</p>
          <button type="button" class={code === undefined ? 'primary' : ''} disabled={getCode.busy} onClick={() => void getCode.run(async () => {
            setCode(await api.call('POST', `/v1/instances/${seg(instanceId)}/registration-code`))
          })}>{code === undefined ? 'Get registration code' : 'Get a new code'}</button>
          <ErrorBox error={getCode.error} />
          {code !== undefined && <p>Code <code class="registration-code" data-testid="registration-code">{code.registrationCode}</code>, expires <Time iso={code.expiresAt} /></p>}
        </li>
        <li>
          <h3>Verification certificate</h3>
          <p class="muted">On the machine that holds the CA key (<code>ca.pem</code>, <code>ca.key</code>), make a certificate whose Common Name is the code, signed by the CA key:</p>
          {code === undefined ? <p class="muted">(get the code first)</p> : <pre class="command" data-testid="openssl-command">{commands}</pre>}
        </li>
        <li>
          <h3>Upload</h3>
          <PemInput label="CA certificate (ca.pem)" name="caCertificate" value={caPem} onChange={setCaPem} />
          <PemInput label="Verification certificate (verif.pem)" name="verificationCertificate" value={verificationPem} onChange={setVerificationPem} />
          <Field label="Status after registration">
            <select name="status" value={status} onChange={(e) => setStatus((e.currentTarget as HTMLSelectElement).value as 'ACTIVE' | 'INACTIVE')}>
              <option value="ACTIVE">ACTIVE (admits devices)</option><option value="INACTIVE">INACTIVE</option>
            </select>
          </Field>
          <ErrorBox error={register.error} />
          <div class="actions">
            <button type="button" onClick={onClose}>Cancel</button>
            <button type="button" class="primary" name="register" disabled={register.busy || caPem.trim() === '' || verificationPem.trim() === ''} onClick={() => void register.run(async () => {
              await api.call('POST', `/v1/instances/${seg(instanceId)}/cas`, { caCertificate: caPem, verificationCertificate: verificationPem, status })
              onRegistered()
            })}>Register</button>
          </div>
        </li>
      </ol>
    </Modal>
  )
}
