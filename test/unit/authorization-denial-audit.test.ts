import t from 'tap'
import type { AuditInput } from '../../src/audit/event'
import { DenialAudit, type DeniedSession } from '../../src/authorization/denial-audit'
import type { ConnId } from '../../src/ids'

const session = (connId: string): DeniedSession => ({
  connId: connId as ConnId, instanceId: 'fleet', protocol: 'mqtt',
  actor: { kind: 'client', deviceId: 'd1' }, source: { ip: '192.0.2.1', port: 4000 },
})

t.test('a looping client is recorded once at once, then as one counted event per window', async (t) => {
  const events: AuditInput[] = []
  const audit = new DenialAudit((e) => events.push(e), 50)
  t.teardown(() => audit.close())
  for (let i = 0; i < 1000; i++) audit.denied(session('c1'), 'mqtt:Publish', `mqtt:fleet:topic/t/${i}`)
  t.equal(events.length, 1, 'the first denial is recorded at once')
  t.match(events[0], { type: 'authorization.denied', reason: 'NOT_AUTHORIZED', outcome: 'failure', instanceId: 'fleet', details: { connId: 'c1', action: 'mqtt:Publish', resource: 'mqtt:fleet:topic/t/0', count: 1 } })
  await new Promise((resolve) => setTimeout(resolve, 80))
  t.equal(events.length, 2, 'the 999 others are one event after the window')
  t.match(events[1]?.details, { count: 999, resource: 'mqtt:fleet:topic/t/999', aggregated: true })
  await new Promise((resolve) => setTimeout(resolve, 80))
  t.equal(events.length, 2, 'a quiet window records nothing')
})

t.test('actions and sessions are aggregated apart, and what is counted is recorded when the session ends', async (t) => {
  const events: AuditInput[] = []
  const audit = new DenialAudit((e) => events.push(e), 60_000)
  t.teardown(() => audit.close())
  audit.denied(session('c1'), 'mqtt:Publish', 'p1')
  audit.denied(session('c1'), 'mqtt:Subscribe', 's1')
  audit.denied(session('c2'), 'mqtt:Publish', 'p2')
  audit.denied(session('c1'), 'mqtt:Publish', 'p3')
  t.equal(events.length, 3, 'one immediate event per (session, action)')
  audit.ended('c1' as ConnId)
  t.equal(events.length, 4)
  t.match(events[3]?.details, { connId: 'c1', action: 'mqtt:Publish', count: 1, resource: 'p3' })
  audit.ended('c1' as ConnId)
  t.equal(events.length, 4, 'ending twice records nothing more')
  audit.denied(session('c1'), 'mqtt:Publish', 'p4')
  t.equal(events.length, 5, 'a session id seen again starts afresh')
})
