import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { open, rewrap, seal } from '../../src/auth/envelope'
import { newKeyFileEntry } from '../../src/auth/master-key'
import { issueSecurityToken, verifySecurityToken } from '../../src/auth/security-tokens'
import type { EnvSecrets } from '../../src/config/load'
import { configSchema, type MasterKeyConfig } from '../../src/config/schema'
import { loadKeyring } from '../../src/keys/load-keyring'
import { openPkcs11Key } from '../../src/keys/pkcs11-key'
import { ticketKeysFor } from '../../src/tls/ticket-keys'
import { rejectsWith } from '../helpers/rejects'
import { createSoftHsmToken, softHsmAvailable } from '../helpers/softhsm'

const secrets: EnvSecrets = { requireServices: false }

t.test('a PKCS#11 master key in SoftHSM2', async (t) => {
  if (!(await softHsmAvailable(t))) return
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-pkcs11-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const token = await createSoftHsmToken(dir)
  await token.addAesKey('mk-hsm-1')
  await token.addAesKey('mk-hsm-2')
  await token.addAesKey('mk-readable', { extractable: true })
  const pkcs11 = (over: Partial<MasterKeyConfig & { provider: 'pkcs11' }> = {}): MasterKeyConfig =>
    configSchema.parse({ masterKey: { provider: 'pkcs11', module: token.module, tokenLabel: token.tokenLabel, keyLabel: 'mk-hsm-1', pinEnv: 'TEST_HSM_PIN', ...over } }).masterKey as MasterKeyConfig
  const env = (name: string): string | undefined => (name === 'TEST_HSM_PIN' ? token.pin : undefined)

  t.test('seals and opens secrets through the token; the same key derives the same keys in every process', async (t) => {
    const ring = await loadKeyring({ masterKey: pkcs11(), secrets, readEnv: env, dataDir: dir })
    t.teardown(() => ring.close())
    t.equal(ring.current.id, 'mk-hsm-1', 'the key label is the key id by default')
    t.equal(ring.source, 'pkcs11')
    const sealed = seal(ring, 'an AccessKey secret', 'accessKeys/LTAI1')
    t.equal(sealed.keyId, 'mk-hsm-1')
    t.equal(open(ring, sealed, 'accessKeys/LTAI1'), 'an AccessKey secret')
    t.throws(() => open(ring, sealed, 'accessKeys/LTAI2'), { code: 'INTERNAL' }, 'the record binding is checked by the token')
    const tampered = Buffer.from(sealed.wrappedKey, 'base64')
    tampered[20] = (tampered[20] ?? 0) ^ 1
    t.throws(() => open(ring, { ...sealed, wrappedKey: tampered.toString('base64') }, 'accessKeys/LTAI1'), { code: 'INTERNAL', message: /does not authenticate/ })

    const again = openPkcs11Key({ id: 'mk-hsm-1', module: token.module, tokenLabel: token.tokenLabel, keyLabel: 'mk-hsm-1', pin: token.pin })
    t.teardown(() => again.close())
    t.same(again.derive(Buffer.from('s'), 'i', 32), ring.current.derive(Buffer.from('s'), 'i', 32), 'a second session on the key derives alike')
    t.same(ticketKeysFor(again, 0), ticketKeysFor(ring.current, 0), 'so every replica issues the same TLS ticket keys')
    t.notSame(ticketKeysFor(ring.current, 0), ticketKeysFor(ring.current, 3_600_000), 'which change every epoch')
    const other = openPkcs11Key({ id: 'mk-hsm-2', module: token.module, tokenLabel: token.tokenLabel, keyLabel: 'mk-hsm-2', pin: token.pin })
    t.teardown(() => other.close())
    t.notSame(other.derive(Buffer.from('s'), 'i', 32), ring.current.derive(Buffer.from('s'), 'i', 32), 'another token key derives other keys')

    const issued = issueSecurityToken(ring, 'LTAI1', 600, Date.now())
    t.ok(verifySecurityToken(ring, issued.securityToken, 'LTAI1', Date.now()).ok, 'STS tokens are signed with a key derived in the token')
  })

  t.test('re-wraps from a file key to the token key and back, the ciphertext untouched', async (t) => {
    const entry = newKeyFileEntry('mk-file-1')
    const file = join(dir, 'keys.json')
    await writeFile(file, JSON.stringify({ keys: [entry] }), { mode: 0o600 })
    const fileOnly = await loadKeyring({ masterKey: configSchema.parse({ masterKey: { provider: 'file', path: file } }).masterKey, secrets, readEnv: env, dataDir: dir })
    const sealed = seal(fileOnly, 'backend password', 'instance/i/backend-password')
    const both = await loadKeyring({ masterKey: { ...pkcs11(), previous: [{ provider: 'file', path: file }] }, secrets, readEnv: env, dataDir: dir })
    t.teardown(() => both.close())
    t.same(both.ids, ['mk-file-1', 'mk-hsm-1'], 'previous keys first, the configured one current')
    const moved = rewrap(both, sealed)
    t.equal(moved.keyId, 'mk-hsm-1')
    t.equal(moved.ciphertext, sealed.ciphertext)
    const hsmOnly = await loadKeyring({ masterKey: pkcs11(), secrets, readEnv: env, dataDir: dir })
    t.teardown(() => hsmOnly.close())
    t.equal(open(hsmOnly, moved, 'instance/i/backend-password'), 'backend password', 'opens with the file key gone')
    t.throws(() => open(hsmOnly, sealed, 'instance/i/backend-password'), { code: 'INTERNAL', message: /mk-file-1.*not loaded/ })
  })

  t.test('refuses a key that could leave the token, and says what is wrong with an unreachable one', async (t) => {
    await rejectsWith(t, loadKeyring({ masterKey: pkcs11({ keyLabel: 'mk-readable' }), secrets, readEnv: env, dataDir: dir }), 'CONFIG_INVALID', /extractable/)
    await rejectsWith(t, loadKeyring({ masterKey: pkcs11({ keyLabel: 'nope' }), secrets, readEnv: env, dataDir: dir }), 'CONFIG_INVALID', /no secret key labelled "nope"/)
    await rejectsWith(t, loadKeyring({ masterKey: pkcs11({ tokenLabel: 'elsewhere' }), secrets, readEnv: env, dataDir: dir }), 'CONFIG_INVALID', /no token labelled "elsewhere".*"portcullis-test"/)
    await rejectsWith(t, loadKeyring({ masterKey: pkcs11({ module: join(dir, 'missing.so') }), secrets, readEnv: env, dataDir: dir }), 'CONFIG_INVALID', /cannot load the PKCS#11 module/)
    await rejectsWith(t, loadKeyring({ masterKey: pkcs11(), secrets, readEnv: () => undefined, dataDir: dir }), 'CONFIG_INVALID', /TEST_HSM_PIN is not set/)
    try {
      await loadKeyring({ masterKey: pkcs11(), secrets, readEnv: () => '999999', dataDir: dir })
      t.fail('a wrong PIN must be refused')
    } catch (err) {
      t.match((err as Error).message, /cannot log in to token "portcullis-test": CKR_PIN_INCORRECT/)
      t.notMatch((err as Error).message, /999999/, 'the PIN is not in the message')
    }
    await rejectsWith(t, loadKeyring({ masterKey: pkcs11({ keyLabel: 'mk:bad' }), secrets, readEnv: env, dataDir: dir }), 'CONFIG_INVALID', /set keyId/)
    // After all those failures the module still works for a good configuration.
    const ring = await loadKeyring({ masterKey: pkcs11({ keyLabel: 'mk-hsm-2', keyId: 'hsm-2026' }), secrets, readEnv: env, dataDir: dir })
    t.equal(ring.current.id, 'hsm-2026')
    ring.close()
  })

  t.test('a configured file or env source must answer: never a generated key', async (t) => {
    await rejectsWith(t, loadKeyring({ masterKey: configSchema.parse({ masterKey: { provider: 'file', path: join(dir, 'absent.json') } }).masterKey, secrets, readEnv: env, dataDir: dir }), 'CONFIG_INVALID', /absent\.json/)
    await rejectsWith(t, loadKeyring({ masterKey: configSchema.parse({ masterKey: { provider: 'env' } }).masterKey, secrets, readEnv: env, dataDir: dir }), 'CONFIG_INVALID', /PORTCULLIS_MASTER_KEY is not set/)
  })
})
