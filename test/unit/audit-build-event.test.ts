import t from 'tap'
import { buildAuditEvent } from '../../src/audit/build-event'
import { GENESIS_PREV, type AuditInput } from '../../src/audit/event'
import { computeEventHash } from '../../src/audit/hash-chain'

const FULL: AuditInput = {
  type: 'connection.accepted', outcome: 'success', protocol: 'mqtt', instanceId: 'plant-1', reason: 'CLIENT_CLOSED',
  actor: { kind: 'client', deviceId: 'd1', password: 'hunter2' },
  source: { ip: '192.0.2.7', port: 40000 },
  details: { connId: 'c-1', listener: 'mqtts', accessKeySecret: 'x' },
}

t.test('writes members in the documented order, optional ones only when present', async (t) => {
  t.same(Object.keys(buildAuditEvent(FULL, GENESIS_PREV, 'gw-1')),
    ['id', 'time', 'chain', 'type', 'instanceId', 'protocol', 'outcome', 'reason', 'actor', 'source', 'details', 'prev', 'hash'])
  const bare: AuditInput = { type: 'admin.session.login', outcome: 'failure', actor: { kind: 'system' }, details: {} }
  t.same(Object.keys(buildAuditEvent(bare, GENESIS_PREV, undefined)), ['id', 'time', 'type', 'outcome', 'actor', 'details', 'prev', 'hash'])
})

t.test('the actor keeps its own member order, kind in its place, secrets redacted', async (t) => {
  const event = buildAuditEvent({ ...FULL, actor: { id: 'AK1', kind: 'accessKey', token: 't' } }, GENESIS_PREV, undefined)
  t.equal(JSON.stringify(event.actor), '{"id":"AK1","kind":"accessKey","token":"[REDACTED]"}')
  t.equal(JSON.stringify(buildAuditEvent(FULL, GENESIS_PREV, undefined).details), '{"connId":"c-1","listener":"mqtts","accessKeySecret":"[REDACTED]"}')
})

t.test('the hash covers every member but itself, chained to prev', async (t) => {
  const event = buildAuditEvent(FULL, 'a'.repeat(64), 'gw-1')
  t.equal(event.prev, 'a'.repeat(64))
  t.equal(event.hash, computeEventHash(event), 'recomputed from the event as written')
  const { hash: _hash, ...body } = event
  t.equal(event.hash, computeEventHash(body))
})

t.test('copies the caller\'s source and actor rather than keeping them', async (t) => {
  const source = { ip: '192.0.2.7', port: 1, extra: 'not audited' } as AuditInput['source'] & { extra: string }
  const actor = { kind: 'client' as const, deviceId: 'd1' }
  const event = buildAuditEvent({ ...FULL, actor, source }, GENESIS_PREV, undefined)
  t.same(event.source, { ip: '192.0.2.7', port: 1 })
  t.not(event.actor, actor)
  t.same(actor, { kind: 'client', deviceId: 'd1' }, 'the caller\'s actor is untouched')
})
