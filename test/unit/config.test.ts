import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, readSecrets } from '../../src/config/load'

const file = (text: string): string => {
  const path = join(mkdtempSync(join(tmpdir(), 'portcullis-config-')), 'portcullis.yaml')
  writeFileSync(path, text)
  return path
}

t.test('defaults serve a single machine', async (t) => {
  const config = loadConfig({ env: {} })
  t.same(config.listeners.map((l) => [l.name, l.protocol, l.port]), [['mqtts', 'mqtt', 8883], ['amqps', 'amqp', 5671]])
  t.same(config.admin, { host: '127.0.0.1', port: 9080 })
  t.same(config.store, { kind: 'embedded', dataDir: './data' })
  t.equal(config.workers, 1)
})

t.test('an unknown key is refused, naming its path', async (t) => {
  t.throws(() => loadConfig({ file: file('admin:\n  prot: 1\n'), env: {} }), { code: 'CONFIG_INVALID', message: /admin\.prot/ })
  t.throws(() => loadConfig({ file: file('listeners:\n  - name: x\n    protocol: mqtt\n    port: 1\n    tsl: true\n'), env: {} }), { message: /listeners\.0\.tsl/ })
})

t.test('a wrong value is refused, naming its path', async (t) => {
  t.throws(() => loadConfig({ file: file('store:\n  kind: sqlite\n'), env: {} }), { code: 'CONFIG_INVALID', message: /store/ })
  t.throws(() => loadConfig({ file: file('networks:\n  - cidr: 10.0.0.0/99\n    vpcId: v\n'), env: {} }), { message: /networks\.0\.cidr/ })
  t.throws(() => loadConfig({ file: file(': : :\n'), env: {} }), { code: 'CONFIG_INVALID', message: /not valid YAML/ })
  t.throws(() => loadConfig({ file: '/nonexistent/portcullis.yaml', env: {} }), { code: 'CONFIG_INVALID', message: /cannot read/ })
})

t.test('PORTCULLIS_* variables override the file, and the result is frozen', async (t) => {
  const config = loadConfig({
    file: file('admin:\n  port: 9999\nlimits:\n  handshakeTimeoutMs: 5000\n'),
    env: { PORTCULLIS_ADMIN__PORT: '9090', PORTCULLIS_LIMITS__HANDSHAKE_TIMEOUT_MS: '2500', PORTCULLIS_STORE__KIND: 'redis', PORTCULLIS_STORE__URL: 'redis://10.0.0.1:6379' },
  })
  t.equal(config.admin.port, 9090)
  t.equal(config.limits.handshakeTimeoutMs, 2500)
  t.equal(config.store.kind, 'redis')
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.limits) && Object.isFrozen(config.listeners[0]), 'deeply frozen')
  t.throws(() => { (config.limits as { handshakeTimeoutMs: number }).handshakeTimeoutMs = 1 })
})

t.test('an override that names no key is refused like a file key', async (t) => {
  t.throws(() => loadConfig({ env: { PORTCULLIS_ADMIN__PROT: '1' } }), { message: /admin\.prot/ })
})

t.test('secrets come from the environment only and never enter the config', async (t) => {
  const env = { PORTCULLIS_MASTER_KEY: 'k', PORTCULLIS_ROOT_ACCESS_KEY_ID: 'id', PORTCULLIS_ROOT_ACCESS_KEY_SECRET: 's', PORTCULLIS_REQUIRE_SERVICES: '1' }
  const config = loadConfig({ env })
  t.notMatch(JSON.stringify(config), /"k"|"s"/)
  t.same(readSecrets(env), { requireServices: true, masterKey: 'k', rootAccessKeyId: 'id', rootAccessKeySecret: 's' })
})
