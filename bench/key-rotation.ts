/**
 * What `keys rotate` costs (issue 13): N AccessKeys sealed under an env master key are re-wrapped
 * under a SoftHSM2 token key by the real KeyRotation on an embedded store (fsync'd writes), while
 * a 5 ms timer measures how long the event loop is held (the data path's latency budget); then the
 * mean of one token seal + unseal of a 32-byte data key.
 *
 *   node dist/bench/key-rotation.js [N]      (needs softhsm2 and opensc; default N = 1000)
 *
 * Prints the figures as JSON. The token is made in a temp directory and removed.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { AccessKeyService } from '../src/auth/access-keys'
import { KeyRotation } from '../src/keys/key-rotation'
import { loadKeyring } from '../src/keys/load-keyring'
import { openStore } from '../src/store/open'

const MODULE = '/usr/lib/softhsm/libsofthsm2.so'
const PIN = '123456'

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 1000)
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-rotation-'))
  try {
    writeFileSync(join(dir, 'softhsm2.conf'), `directories.tokendir = ${dir}\nobjectstore.backend = file\nlog.level = ERROR\n`)
    process.env.SOFTHSM2_CONF = join(dir, 'softhsm2.conf')
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--pin', PIN, '--so-pin', `${PIN}0`], { stdio: 'ignore' })
    execFileSync('pkcs11-tool', ['--module', MODULE, '--token-label', 'bench', '--login', '--pin', PIN, '--keygen', '--key-type', 'AES:32', '--label', 'mk-hsm', '--sensitive'], { stdio: 'ignore' })
    const logger = pino({ level: 'silent' })
    const store = await openStore({ kind: 'embedded', dataDir: join(dir, 'data') }, 'bench', logger)
    const secrets = { requireServices: false, masterKey: randomBytes(32).toString('base64'), masterKeyId: 'mk-env' }
    const before = await loadKeyring({ masterKey: undefined, secrets, dataDir: join(dir, 'data'), readEnv: () => undefined })
    const keys = new AccessKeyService(store, before)
    for (let i = 0; i < n; i++) await keys.create({})
    const keyring = await loadKeyring({
      masterKey: { provider: 'pkcs11', module: MODULE, tokenLabel: 'bench', pinEnv: 'BENCH_PIN', keyLabel: 'mk-hsm', previous: [{ provider: 'env' }] },
      secrets, dataDir: join(dir, 'data'), readEnv: () => PIN,
    })
    let maxLagMs = 0
    let last = performance.now()
    const sampler = setInterval(() => {
      const now = performance.now()
      maxLagMs = Math.max(maxLagMs, now - last - 5)
      last = now
    }, 5)
    const rotation = new KeyRotation({ store, keyring, audit: { record: () => ({}) as never }, logger, processId: 'bench', batchSize: 50, pauseMs: 0 })
    const started = performance.now()
    await rotation.start('bench')
    await new Promise((resolve) => setTimeout(resolve, 1))
    await rotation.idle()
    const rotationMs = performance.now() - started
    clearInterval(sampler)
    const status = await rotation.status()
    const key = keyring.current
    const dataKey = randomBytes(32)
    const aad = Buffer.from('bench')
    const t0 = performance.now()
    const rounds = 2000
    for (let i = 0; i < rounds; i++) key.unseal(key.seal(dataKey, aad), aad)
    const tokenMicros = ((performance.now() - t0) * 1000) / rounds
    console.log(JSON.stringify({
      secrets: n,
      rotationMs: Math.round(rotationMs),
      microsPerSecret: Math.round((rotationMs * 1000) / n),
      maxEventLoopLagMs: Math.round(maxLagMs * 10) / 10,
      state: status.rotation?.state,
      rewrapped: status.rotation?.done,
      tokenSealUnsealMicros: Math.round(tokenMicros * 10) / 10,
    }))
    keyring.close()
    before.close()
    await store.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
