import type { BackendSpec, InstanceRecord } from '../store/records'

/**
 * What leaves the gateway about an instance: the API answer and the audit before/after. DESIGN §1
 * "never returns a secret or a password": the backend password and the server private key, in
 * clear or sealed, are replaced by flags saying whether they are set.
 */
export interface InstanceView extends Omit<InstanceRecord, 'backend' | 'serverCertificate'> {
  backend: Omit<BackendSpec, 'password' | 'passwordSealed'> & { passwordSet: boolean }
  serverCertificate?: { certificate: string; privateKeySet: true }
}

export function instanceView(record: InstanceRecord): InstanceView {
  const { password, passwordSealed, ...backend } = record.backend
  const { serverCertificate, ...rest } = record
  const view: InstanceView = { ...rest, backend: { ...backend, passwordSet: password !== undefined || passwordSealed !== undefined } }
  if (serverCertificate !== undefined) view.serverCertificate = { certificate: serverCertificate.certificate, privateKeySet: true }
  return view
}
