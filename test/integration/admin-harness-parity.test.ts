import t from 'tap'
import { signRequest } from '../../src/admin/signing'
import { adminHarness } from '../helpers/admin-harness'
import { startTestGateway } from '../helpers/gateway'

/**
 * The admin harness (test/helpers/admin-harness.ts) must sign-check exactly as the real gateway
 * does, or unit tests assert behaviour production lacks. Both build their context with
 * buildAdminContext; this test proves the answers agree on the wire. Needs no external service.
 */
type Key = { accessKeyId: string; accessKeySecret: string }
type Answer = { status: number; code: string | undefined }

t.test('the admin harness and a real gateway answer a request signed by a sub-account AccessKey alike', async (t) => {
  const gw = await startTestGateway(t)
  const h = await adminHarness(t)

  // A sub-account with no policy attached: its keys verify and are granted nothing (DESIGN §4).
  t.equal((await gw.admin('POST', '/v1/accounts', { id: 'parity' })).status, 201)
  t.equal((await h.call('POST', '/v1/accounts', { id: 'parity' })).statusCode, 201)
  const gwKeyRes = await gw.admin<Key>('POST', '/v1/access-keys', { description: 'parity', accountId: 'parity' })
  t.equal(gwKeyRes.status, 201)
  const hKeyRes = await h.call('POST', '/v1/access-keys', { description: 'parity', accountId: 'parity' })
  t.equal(hKeyRes.statusCode, 201)

  const viaGateway = async (method: string, url: string, key: Key): Promise<Answer> => {
    const res = await fetch(gw.gateway.adminUrl + url, { method, headers: signRequest({ method, url, body: '', ...key }) })
    const body = (await res.json()) as { code?: string }
    return { status: res.status, code: body.code }
  }
  const viaHarness = async (method: string, url: string, key: Key): Promise<Answer> => {
    const res = await h.call(method, url, undefined, key)
    return { status: res.statusCode, code: (res.json() as { code?: string }).code }
  }

  for (const url of ['/v1/instances', '/v1/access-keys']) {
    const real = await viaGateway('GET', url, gwKeyRes.body)
    const harness = await viaHarness('GET', url, hKeyRes.json() as Key)
    t.same(harness, real, `GET ${url}: the harness answers as the gateway does`)
    t.same(real, { status: 403, code: 'ACCESS_DENIED' }, `GET ${url}: a signed call from a key without grants is verified, then refused`)
  }

  // Control: each side's root key is accepted, so the 401 above is about the key, not the setup.
  t.equal((await gw.admin('GET', '/v1/instances')).status, 200)
  t.equal((await h.call('GET', '/v1/instances')).statusCode, 200)
})
