import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/load'
import { diffConfig, REDACTED } from '../../src/config/diff'
import { effectiveConfig, modeOf, planReload } from '../../src/config/reload-plan'
import type { Config } from '../../src/config/schema'

const dir = mkdtempSync(join(tmpdir(), 'portcullis-reload-diff-'))
let n = 0
const load = (yaml: string, env: NodeJS.ProcessEnv = {}): Config => {
  const file = join(dir, `c${n++}.yaml`)
  writeFileSync(file, yaml)
  return loadConfig({ file, env })
}

const BASE = `
listeners:
  - {name: mqtts, protocol: mqtt, host: 127.0.0.1, port: 8883}
  - {name: amqps, protocol: amqp, host: 127.0.0.1, port: 5671}
instances:
  - id: prod
    protocol: amqp
    backend: {kind: tcp, host: 127.0.0.1, port: 5672, username: guest, password: old-secret}
store: {kind: redis, url: "redis://:storepass@127.0.0.1:6379"}
networks: [{cidr: 10.0.0.0/8, vpcId: vpc-a}]
`

t.test('an identical config has no changes', async (t) => {
  t.same(diffConfig(load(BASE), load(BASE)), [])
})

t.test('listeners are compared by name: reordering is no change, an edit names the listener', async (t) => {
  const reordered = load(BASE.replace(/(  - \{name: mqtts.*\n)(  - \{name: amqps.*\n)/, '$2$1'))
  t.same(diffConfig(load(BASE), reordered), [])
  const edited = load(BASE.replace('port: 8883}', 'port: 8884}'))
  t.same(diffConfig(load(BASE), edited), [{ path: 'listeners[mqtts].port', kind: 'changed', before: 8883, after: 8884 }])
})

t.test('an added or removed listener is one change carrying the whole entry', async (t) => {
  const added = load(BASE.replace('instances:', '  - {name: extra, protocol: mqtt, host: 127.0.0.1, port: 1884, tls: false}\ninstances:'))
  const changes = diffConfig(load(BASE), added)
  t.equal(changes.length, 1)
  t.match(changes[0], { path: 'listeners[extra]', kind: 'added', after: { name: 'extra', port: 1884, tls: false } })
  t.notOk('before' in (changes[0] ?? {}))
  t.match(diffConfig(added, load(BASE)), [{ path: 'listeners[extra]', kind: 'removed', before: { name: 'extra' } }])
})

t.test('a changed secret is named by its path, never with its values', async (t) => {
  const next = load(BASE.replace('old-secret', 'new-secret').replace('storepass', 'otherpass'))
  const changes = diffConfig(load(BASE), next)
  t.same([...changes].sort((a, b) => a.path.localeCompare(b.path)), [
    { path: 'instances[prod].backend.password', kind: 'changed', redacted: true },
    { path: 'store.url', kind: 'changed', redacted: true },
  ])
  t.notMatch(JSON.stringify(changes), /secret|pass@/)
})

t.test('a whole value shown (an added instance, an array of sinks) has its secrets redacted at any depth', async (t) => {
  const next = load(BASE.replace('store:', `  - id: second
    protocol: amqp
    backend: {kind: tcp, host: 10.1.1.1, port: 5672, password: hunter2}
store:`) + 'audit:\n  sinks: [{kind: redis-stream, url: "redis://:sinkpass@10.0.0.2:6379"}]\n')
  const changes = diffConfig(load(BASE), next)
  const text = JSON.stringify(changes)
  t.notMatch(text, /hunter2|sinkpass/)
  t.match(changes.find((c) => c.path === 'instances[second]'), { kind: 'added', after: { backend: { host: '10.1.1.1', password: REDACTED } } })
  t.match(changes.find((c) => c.path === 'audit.sinks'), { kind: 'changed', before: [{ kind: 'stdout' }], after: [{ kind: 'redis-stream', url: REDACTED }] })
})

t.test('other arrays are one value, compared whole', async (t) => {
  const next = load(BASE.replace('vpc-a', 'vpc-b'))
  t.same(diffConfig(load(BASE), next), [{ path: 'networks', kind: 'changed', before: [{ cidr: '10.0.0.0/8', vpcId: 'vpc-a' }], after: [{ cidr: '10.0.0.0/8', vpcId: 'vpc-b' }] }])
})

t.test('environment overrides take part in the diff', async (t) => {
  const changes = diffConfig(load(BASE), load(BASE, { PORTCULLIS_LOG__LEVEL: 'debug' }))
  t.same(changes, [{ path: 'log.level', kind: 'changed', before: 'info', after: 'debug' }])
})

t.test('each changed key is live or needs a restart', async (t) => {
  t.equal(modeOf('listeners[mqtts].port'), 'live')
  t.equal(modeOf('instances[prod].backend.password'), 'live')
  t.equal(modeOf('networks'), 'live')
  t.equal(modeOf('tls.profile'), 'live')
  t.equal(modeOf('log.level'), 'live')
  t.equal(modeOf('limits.handshakeTimeoutMs'), 'live')
  t.equal(modeOf('limits.connectRatePerSource.perSecond'), 'restart')
  t.equal(modeOf('limits.maxStaleMs'), 'restart')
  t.equal(modeOf('store.url'), 'restart')
  t.equal(modeOf('admin.port'), 'restart')
  t.equal(modeOf('workers'), 'restart')
  t.equal(modeOf('audit.sinks'), 'live')
  t.equal(modeOf('audit.recentEvents'), 'restart')
  t.equal(modeOf('masterKey.provider'), 'restart')
  t.equal(modeOf('audit.unknownKey'), 'restart', 'a key the table does not know fails closed')
  t.equal(modeOf('nonsense'), 'restart')
})

t.test('the effective config takes live keys from the file and keeps restart-only ones', async (t) => {
  const running = load(BASE)
  const next = load(BASE.replace('port: 8883}', 'port: 8884}').replace('storepass', 'other'), {
    PORTCULLIS_ADMIN__PORT: '9999', PORTCULLIS_LIMITS__HANDSHAKE_TIMEOUT_MS: '1234', PORTCULLIS_LIMITS__MAX_STALE_MS: '5', PORTCULLIS_WORKERS: '3',
  })
  const plan = planReload(running, next, diffConfig(running, next))
  t.same(plan.live.map((c) => c.path).sort(), ['limits.handshakeTimeoutMs', 'listeners[mqtts].port'])
  t.same(plan.restartNeeded.map((c) => c.path).sort(), ['admin.port', 'limits.maxStaleMs', 'store.url', 'workers'])
  const e = plan.effective
  t.equal(e.listeners[0]?.port, 8884)
  t.equal(e.limits.handshakeTimeoutMs, 1234)
  t.equal(e.limits.maxStaleMs, running.limits.maxStaleMs)
  t.equal(e.admin.port, running.admin.port)
  t.equal(e.workers, 1)
  t.same(e.store, running.store)
  t.ok(Object.isFrozen(e) && Object.isFrozen(e.limits))
  t.same(diffConfig(e, effectiveConfig(e, next)), [], 'reloading the same file again applies nothing new')
  t.same(diffConfig(running, e).map((c) => c.path).sort(), ['limits.handshakeTimeoutMs', 'listeners[mqtts].port'])
})

t.test('an optional limit absent on both sides stays absent in the effective config', async (t) => {
  const running = load(BASE)
  const e = effectiveConfig(running, load(BASE))
  t.notOk('connectRatePerSource' in e.limits)
  t.same(e, running)
})
