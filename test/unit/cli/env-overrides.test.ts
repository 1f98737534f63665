import t from 'tap'
import { loadConfig } from '../../../src/config/load'
import { runCli } from '../../helpers/cli-harness'

/**
 * A PORTCULLIS_* variable that names no key, or sets a bad value, is refused with the variable's
 * name (issue 14: "any stray PORTCULLIS_* variable aborts start with a message that does not name
 * the variable"): before, `PORTCULLIS_FOO=1` gave only "foo: Unrecognized key".
 */
const refusal = (env: NodeJS.ProcessEnv): string => {
  try {
    loadConfig({ env })
  } catch (err) {
    if ((err as { code?: string }).code !== 'CONFIG_INVALID') throw err
    return (err as Error).message
  }
  throw new Error('expected a refusal')
}

t.test('an unknown variable is named, with the closest known one', async (t) => {
  const message = refusal({ PORTCULLIS_ADMIN__PROT: '9090' })
  t.match(message, /^invalid configuration with the PORTCULLIS_\* environment overrides:\n {2}admin\.prot: Unrecognized key: environment variable PORTCULLIS_ADMIN__PROT names no configuration key; did you mean PORTCULLIS_ADMIN__PORT\?$/)
  t.match(refusal({ PORTCULLIS_LIMITS__HANDSHAKE_TIMEOUT: '1' }), /PORTCULLIS_LIMITS__HANDSHAKE_TIMEOUT names no configuration key; did you mean PORTCULLIS_LIMITS__HANDSHAKE_TIMEOUT_MS\?/)
  t.match(refusal({ PORTCULLIS_MASTER_KY: 'x' }), /did you mean PORTCULLIS_MASTER_KEY\?/, 'the secret variables are candidates too')
})

t.test('an unknown variable nothing is close to lists the known names where its path stops', async (t) => {
  const top = refusal({ PORTCULLIS_TOKEN: 'abc' })
  t.match(top, /environment variable PORTCULLIS_TOKEN names no configuration key; known at the top level: PORTCULLIS_LISTENERS, PORTCULLIS_ADMIN__…, PORTCULLIS_STORE__…/)
  t.match(top, /; not config keys: PORTCULLIS_ROOT_ACCESS_KEY_ID, /)
  t.match(refusal({ PORTCULLIS_SHUTDOWN__GRACE: '5' }), /known at shutdown: PORTCULLIS_SHUTDOWN__READINESS_DELAY_MS, PORTCULLIS_SHUTDOWN__DRAIN_TIMEOUT_MS$/)
  t.match(refusal({ PORTCULLIS_ADMIN____PORT: '1' }), /environment variable PORTCULLIS_ADMIN____PORT does not name a configuration key: levels are separated by __/)
})

t.test('a malformed value names the variable that set it, never its value', async (t) => {
  const port = refusal({ PORTCULLIS_ADMIN__PORT: 'secret-looking-value' })
  t.match(port, /admin\.port: Invalid input: expected number, received string \(set by environment variable PORTCULLIS_ADMIN__PORT\)/)
  t.notOk(port.includes('secret-looking-value'))
  t.match(refusal({ PORTCULLIS_LOG: 'debug' }), /log: .*\(set by environment variable PORTCULLIS_LOG; it is an object: set its keys instead, e.g. PORTCULLIS_LOG__LEVEL\)/)
  t.match(refusal({ PORTCULLIS_STORE__URL: 'redis://r:6379' }), /store\.kind: .*\(environment variable PORTCULLIS_STORE__URL sets store\.url\)/)
  t.match(refusal({ PORTCULLIS_LOG__LEVEL: 'loud', PORTCULLIS_ADMIN__PROT: '1' }), /admin\.prot: Unrecognized key[^\n]*\n {2}log\.level: [^\n]*\(set by environment variable PORTCULLIS_LOG__LEVEL\)/, 'every problem at once')
})

t.test('what was valid still is: known overrides apply, the secret variables are not config keys', async (t) => {
  const config = loadConfig({ env: { PORTCULLIS_ADMIN__PORT: '9091', PORTCULLIS_LOG__LEVEL: 'warn', PORTCULLIS_MASTER_KEY: 'k', PORTCULLIS_REQUIRE_SERVICES: '1', PORTCULLIS_STORE__KIND: 'redis', PORTCULLIS_STORE__CLUSTER__NODES: '["c1:6379"]' } })
  t.equal(config.admin.port, 9091)
  t.equal(config.log.level, 'warn')
})

t.test('config check and every command that reads the config print the refusal naming the variable', async (t) => {
  const check = await runCli(['config', 'check'], { PORTCULLIS_ADMIN__PROT: '1' })
  t.equal(check.code, 1)
  t.match(check.err, /^CONFIG_INVALID: invalid configuration with the PORTCULLIS_\* environment overrides:\n {2}admin\.prot: Unrecognized key: environment variable PORTCULLIS_ADMIN__PROT/)
  t.match(check.err, /\nhint: fix the key named above; portcullis config check -c FILE checks a file without starting\n$/)
  const start = await runCli(['start'], { PORTCULLIS_TOKEN: 'x' })
  t.equal(start.code, 1, 'start refuses before opening anything')
  t.match(start.err, /^CONFIG_INVALID: .*PORTCULLIS_TOKEN names no configuration key/s)
})
