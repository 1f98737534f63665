import t from 'tap'
import { adminHarness } from '../helpers/admin-harness'
import { createAdminServer } from '../../src/admin/server'
import { ERROR_CODES } from '../../src/errors'
import type { Readiness } from '../../src/admin/context'

async function readyz(t: tap.Test, ready: () => Promise<Readiness>): Promise<{ status: number; body: Record<string, unknown> }> {
  const h = await adminHarness(t)
  const app = createAdminServer({ ...h.ctx, ready })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/readyz' })
  return { status: res.statusCode, body: res.json() }
}

t.test('/readyz is 200 when the gateway says ready', async (t) => {
  const { status, body } = await readyz(t, async () => ({ ready: true }))
  t.equal(status, 200)
  t.same(body, { status: 'ready' })
})

t.test('/readyz is 503 STORE_RESYNCING while the store answers but the view is not fresh yet', async (t) => {
  const { status, body } = await readyz(t, async () => ({ ready: false, code: 'STORE_RESYNCING' }))
  t.equal(status, 503)
  t.equal(body.code, 'STORE_RESYNCING')
  t.equal(body.message, ERROR_CODES.STORE_RESYNCING)
  t.type(body.requestId, 'string')
})

t.test('/readyz is 503 STORE_UNAVAILABLE when the check itself fails', async (t) => {
  const { status, body } = await readyz(t, async () => { throw new Error('boom') })
  t.equal(status, 503)
  t.equal(body.code, 'STORE_UNAVAILABLE')
})
