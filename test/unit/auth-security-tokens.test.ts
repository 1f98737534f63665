import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { encodeUserName, parseUserName } from '../../src/auth/credentials'
import { loadMasterKey, newKeyFileEntry, type MasterKeyring } from '../../src/auth/master-key'
import {
  issueSecurityToken, MAX_TOKEN_TTL_SECONDS, MIN_TOKEN_TTL_SECONDS, SecurityTokens, verifySecurityToken,
} from '../../src/auth/security-tokens'
import { PortcullisError } from '../../src/errors'
import { rejectsWith } from '../helpers/rejects'

const NOW = Date.parse('2026-11-24T08:00:00Z')

async function ring(t: Test, id = 'k1', key = randomBytes(32).toString('base64')): Promise<MasterKeyring> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-auth-sts-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return loadMasterKey({ masterKey: key, masterKeyId: id, dataDir: dir })
}

t.test('issues a token that verifies for its AccessKey until it expires', async (t) => {
  const keys = await ring(t)
  const issued = issueSecurityToken(keys, 'LTAIaaaa', 3600, NOW)
  t.equal(issued.expiresAt, '2026-11-24T09:00:00.000Z')
  t.notMatch(issued.securityToken, /:/, 'no ":" — it sits inside the userName')
  t.same(verifySecurityToken(keys, issued.securityToken, 'LTAIaaaa', NOW + 3_599_000), { ok: true, expiresAt: issued.expiresAt, tokenId: issued.tokenId })
  const expired = verifySecurityToken(keys, issued.securityToken, 'LTAIaaaa', NOW + 3_600_000)
  t.equal(expired.ok === false && expired.reason, 'CREDENTIAL_EXPIRED')
})

t.test('fits in a userName and parses back out of it', async (t) => {
  const keys = await ring(t)
  const { securityToken } = issueSecurityToken(keys, 'LTAIaaaa', 60, NOW)
  const userName = encodeUserName({ type: 0, instanceId: 'amqp-1', accessKeyId: 'LTAIaaaa', securityToken })
  const parsed = parseUserName(userName)
  t.ok(parsed.ok && parsed.value.kind === 'sts' && parsed.value.securityToken === securityToken)
})

t.test('refuses a token for another AccessKey, a forged or tampered one, and one from another master key', async (t) => {
  const keys = await ring(t)
  const { securityToken } = issueSecurityToken(keys, 'LTAIaaaa', 600, NOW)
  const [body = '', mac = ''] = securityToken.split('.')
  const forgedBody = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), ak: 'LTAIbbbb' })).toString('base64url')
  const lastMacChar = mac.slice(-1) === 'A' ? 'B' : 'A'
  const cases: Array<[string, string, string, RegExp]> = [
    ['another AccessKey', securityToken, 'LTAIbbbb', /another AccessKey/],
    ['payload rewritten to another AccessKey', `${forgedBody}.${mac}`, 'LTAIbbbb', /does not verify/],
    ['tampered MAC', `${body}.${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}`, 'LTAIaaaa', /does not verify/],
    ['MAC with non-canonical pad bits', `${body}.${mac.slice(0, -1)}${lastMacChar}`, 'LTAIaaaa', /does not verify/],
    ['no MAC', body, 'LTAIaaaa', /malformed/],
    ['garbage', 'x'.repeat(20), 'LTAIaaaa', /malformed/],
    ['huge', `${'A'.repeat(5000)}.${mac}`, 'LTAIaaaa', /malformed/],
  ]
  for (const [name, token, ak, detail] of cases) {
    const v = verifySecurityToken(keys, token, ak, NOW)
    t.equal(v.ok === false && v.reason, 'BAD_CREDENTIALS', name)
    if (!v.ok) t.match(v.detail, detail, `${name}: detail`)
  }
  const stranger = await ring(t, 'k1')
  const v = verifySecurityToken(stranger, securityToken, 'LTAIaaaa', NOW)
  t.equal(v.ok === false && v.reason, 'BAD_CREDENTIALS', 'another gateway\'s master key (same id) does not verify it')
})

t.test('tokens survive a master key rotation while the old key is loaded, and not after', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-auth-sts-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const oldFile = join(dir, 'old.json')
  await writeFile(oldFile, JSON.stringify(newKeyFileEntry('old')), { mode: 0o600 })
  const before = await loadMasterKey({ masterKeyFile: oldFile, dataDir: dir })
  const { securityToken } = issueSecurityToken(before, 'LTAIaaaa', 600, NOW)
  const rotated = await loadMasterKey({ masterKey: randomBytes(32).toString('base64'), masterKeyId: 'new', masterKeyFile: oldFile, dataDir: dir })
  t.ok(verifySecurityToken(rotated, securityToken, 'LTAIaaaa', NOW).ok, 'verifies with the old key still in the keyring')
  const onlyNew = await ring(t, 'new')
  const v = verifySecurityToken(onlyNew, securityToken, 'LTAIaaaa', NOW)
  t.equal(v.ok === false && v.detail, 'security token names master key old, which is not loaded')
})

t.test('bounds the time to live', async (t) => {
  const keys = await ring(t)
  for (const ttl of [MIN_TOKEN_TTL_SECONDS - 1, MAX_TOKEN_TTL_SECONDS + 1, 100.5, Number.NaN]) {
    t.throws(() => issueSecurityToken(keys, 'LTAIaaaa', ttl, NOW), { code: 'VALIDATION_FAILED' }, `ttl ${ttl}`)
  }
  t.ok(issueSecurityToken(keys, 'LTAIaaaa', MAX_TOKEN_TTL_SECONDS, NOW))
})

t.test('issues only for an AccessKey that exists and is Active', async (t) => {
  const keys = await ring(t)
  const statuses: Record<string, 'Active' | 'Inactive'> = { LTAIon: 'Active', LTAIoff: 'Inactive' }
  const tokens = new SecurityTokens(keys, {
    get: async (id) => {
      const status = statuses[id]
      if (status === undefined) throw new PortcullisError('NOT_FOUND')
      return { status }
    },
  }, () => NOW)
  const issued = await tokens.issue('LTAIon', 120)
  t.equal(issued.accessKeyId, 'LTAIon')
  t.ok(tokens.verify(issued.securityToken, 'LTAIon').ok)
  await rejectsWith(t, tokens.issue('LTAIoff', 120), 'ACCESS_KEY_INACTIVE')
  await rejectsWith(t, tokens.issue('LTAIgone', 120), 'NOT_FOUND')
})
