import t from 'tap'
import { accountKey, adminHarness, grant } from '../helpers/admin-harness'

t.test('POST /v1/config/reload is decided as admin:ReloadConfig on admin:config/reload', async (t) => {
  const h = await adminHarness(t)
  const ops = await accountKey(h, 'ops')
  const denied = await h.call('POST', '/v1/config/reload', undefined, ops)
  t.equal(denied.statusCode, 403)
  t.equal(denied.json().message, `AccessKey ${ops.accessKeyId} may not admin:ReloadConfig on admin:config/reload`)
  await grant(h, 'reloaders', 'account:ops', [{ effect: 'Allow', actions: ['admin:ReloadConfig'], resources: ['admin:config/*'] }])
  // Allowed now; this admin server has no gateway behind it, so there is nothing to reload.
  const allowed = await h.call('POST', '/v1/config/reload', undefined, ops)
  t.equal(allowed.statusCode, 404)
  t.equal(allowed.json().code, 'NOT_FOUND')
})

t.test('POST /v1/config/reload takes no body fields', async (t) => {
  const h = await adminHarness(t)
  const res = await h.call('POST', '/v1/config/reload', { file: '/etc/other.yaml' })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'VALIDATION_FAILED', 'the file reloaded is the one the gateway started with, never one a caller names')
})
