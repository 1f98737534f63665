import t from 'tap'
import { createAdminServer } from '../../src/admin/server'
import { RefusalAudit } from '../../src/admin/refusal-audit'
import { signRequest } from '../../src/admin/signing'
import type { AuditInput } from '../../src/audit/event'
import { adminHarness, ROOT } from '../helpers/admin-harness'

const MQTT = { id: 'plant', protocol: 'mqtt', hostnames: ['plant.example.com'] }

t.test('10,500 bad admin requests do not evict earlier real events from GET /v1/audit', async (t) => {
  const h = await adminHarness(t)
  t.equal((await h.call('POST', '/v1/instances', MQTT)).statusCode, 201)
  t.equal((await h.call('POST', '/v1/access-keys', {})).statusCode, 201)

  // Three kinds of noise: one source hammering unsigned, one forging a signature, and 2,500
  // distinct source addresses (more than the aggregation table holds) each sending a few.
  const requests: Array<Promise<unknown>> = []
  for (let i = 0; i < 4_000; i++) requests.push(h.app.inject({ method: 'GET', url: '/v1/instances', remoteAddress: '198.51.100.7' }))
  const forged = { accessKeyId: ROOT.accessKeyId, accessKeySecret: 'guess' }
  for (let i = 0; i < 4_000; i++) {
    requests.push(h.app.inject({ method: 'GET', url: '/v1/instances', remoteAddress: '198.51.100.8', headers: signRequest({ method: 'GET', url: '/v1/instances', ...forged }) }))
  }
  await Promise.all(requests.splice(0))
  for (let i = 0; i < 2_500; i++) {
    requests.push(h.app.inject({ method: 'GET', url: '/v1/audit', remoteAddress: `2001:db8::${i.toString(16)}` }))
  }
  await Promise.all(requests)

  const query = async (qs: string): Promise<Array<{ type: string; reason?: string; source?: { ip: string }; details: Record<string, unknown> }>> => {
    const res = await h.call('GET', `/v1/audit?${qs}`)
    t.equal(res.statusCode, 200, res.body)
    return res.json().items
  }
  t.same((await query('type=admin.instance.*')).map((e) => e.type), ['admin.instance.create'], 'the instance creation is still returned')
  t.same((await query('type=admin.accessKey.*')).map((e) => e.type), ['admin.accessKey.create'], 'and the AccessKey creation')
  const refused = await query('type=admin.request.refused&limit=1000')
  t.ok(refused.length <= 1_000, `refusals are aggregated and capped (${refused.length} events for 10,500 requests)`)
  t.equal(refused.filter((e) => e.source?.ip === '198.51.100.7').length, 1, 'one event at once for the unsigned flood of one source')
  t.equal(refused.filter((e) => e.source?.ip === '198.51.100.8').length, 1, 'and one for the forger')

  // The interval ends (here: the server closes): each flood's count is recorded once.
  await h.app.close()
  const after = h.audit.recent({ type: 'admin.request.refused', limit: 10_000 })
  const summary = (ip: string): Record<string, unknown> | undefined => after.find((e) => e.source?.ip === ip && e.details['aggregated'] === true)?.details
  t.match(summary('198.51.100.7'), { count: 3_999, method: 'GET', path: '/v1/instances' })
  t.match(after.find((e) => e.source?.ip === '198.51.100.8' && e.details['aggregated'] === true), { reason: 'SIGNATURE_INVALID', details: { count: 3_999, accessKeyIds: [ROOT.accessKeyId] } })
  // The table holds 1,000 (source, code) pairs: the two floods and 998 of the distinct sources.
  t.match(summary('*'), { count: 1_502 }, 'sources past the table fold into one overflow summary')
  t.ok(h.audit.recent({ limit: 10_000 }).some((e) => e.type === 'admin.instance.create'), 'the real events survive the summaries too')
})

t.test('refusals are aggregated per source and code per interval, with a count', async (t) => {
  const recorded: AuditInput[] = []
  const audit = new RefusalAudit((input) => recorded.push(input), { intervalMs: 3_600_000, maxSources: 2 })
  t.teardown(() => audit.close())
  const req = (ip: string, reason: 'SIGNATURE_INVALID' | 'NONCE_REUSED', accessKeyId?: string) =>
    audit.refused({ source: { ip, port: 1 }, reason, method: 'GET', path: '/v1/x', requestId: 'r', ...(accessKeyId !== undefined ? { accessKeyId } : {}) })
  req('192.0.2.1', 'SIGNATURE_INVALID', 'A')
  req('192.0.2.1', 'SIGNATURE_INVALID', 'B')
  req('192.0.2.1', 'SIGNATURE_INVALID', 'B')
  req('192.0.2.1', 'NONCE_REUSED')
  req('192.0.2.2', 'SIGNATURE_INVALID')
  t.same(recorded.map((e) => [e.source?.ip, e.reason, e.details?.['count']]), [['192.0.2.1', 'SIGNATURE_INVALID', 1], ['192.0.2.1', 'NONCE_REUSED', 1]],
    'the first of each (source, code) at once; the table holds 2, so the third source waits for the summary')
  audit.flush()
  t.same(recorded.slice(2).map((e) => [e.source?.ip, e.reason, e.details?.['count'], e.details?.['accessKeyIds']]), [
    ['192.0.2.1', 'SIGNATURE_INVALID', 2, ['B']],
    ['*', 'SIGNATURE_INVALID', 1, []],
  ])
  req('192.0.2.1', 'SIGNATURE_INVALID')
  t.equal(recorded.length, 5, 'a new interval records the first refusal at once again')
  audit.flush()
  t.equal(recorded.length, 5, 'and nothing to summarise when nothing more came')
})

t.test('refused requests stay in their own lane of the recent ring', async (t) => {
  const h = await adminHarness(t)
  // A table large enough for every source: each one's first refusal is recorded at once, so only
  // the ring's lane keeps 12,000 events from evicting the record.
  const app = createAdminServer({ ...h.ctx, refusedRequestAudit: { maxSources: 100_000 } })
  t.teardown(() => app.close())
  t.equal((await h.call('POST', '/v1/instances', MQTT)).statusCode, 201)
  const requests: Array<Promise<unknown>> = []
  for (let i = 0; i < 12_000; i++) requests.push(app.inject({ method: 'GET', url: '/v1/instances', remoteAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }))
  await Promise.all(requests)
  const all = h.audit.recent({ limit: 10_000 })
  const refused = all.filter((e) => e.type === 'admin.request.refused').length
  t.ok(refused > 0 && refused <= 1_000, `even unaggregated, refusals take at most a tenth of the ring (${refused})`)
  t.ok(all.some((e) => e.type === 'admin.instance.create'), 'the real event is still there')
})
