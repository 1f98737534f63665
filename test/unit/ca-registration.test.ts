import t from 'tap'
import { REGISTRATION_CODE_TTL_MS, RegistrationCodes } from '../../src/ca/registration-codes'
import { tempStore } from '../helpers/pki'

const NOW = new Date('2026-03-01T10:00:00.000Z')
const later = (ms: number): Date => new Date(NOW.getTime() + ms)

t.test('issues a random 32-hex-character code that expires in one hour', async (t) => {
  const codes = new RegistrationCodes(await tempStore(t))
  const issued = await codes.issue('i1', NOW)
  t.match(issued.registrationCode, /^[0-9a-f]{32}$/)
  t.equal(issued.expiresAt, later(REGISTRATION_CODE_TTL_MS).toISOString())
  t.equal(REGISTRATION_CODE_TTL_MS, 60 * 60 * 1000)
  t.not((await codes.issue('i1', NOW)).registrationCode, issued.registrationCode)
})

t.test('a code is consumed once; the second use is refused with REGISTRATION_CODE_MISSING', async (t) => {
  const codes = new RegistrationCodes(await tempStore(t))
  const { registrationCode } = await codes.issue('i1', NOW)
  await codes.consume('i1', registrationCode, NOW)
  await t.rejects(codes.consume('i1', registrationCode, NOW), { code: 'REGISTRATION_CODE_MISSING' })
})

t.test('a wrong code is refused and does not burn the current code', async (t) => {
  const codes = new RegistrationCodes(await tempStore(t))
  const { registrationCode } = await codes.issue('i1', NOW)
  await t.rejects(codes.consume('i1', 'f'.repeat(32), NOW), { code: 'REGISTRATION_CODE_INVALID' })
  await t.rejects(codes.consume('i1', 'short', NOW), { code: 'REGISTRATION_CODE_INVALID' }, 'another length')
  await t.rejects(codes.check('i1', registrationCode.toUpperCase(), NOW), { code: 'REGISTRATION_CODE_INVALID' }, 'case matters')
  await codes.consume('i1', registrationCode, NOW)
})

t.test('asking for a new code voids the previous one', async (t) => {
  const codes = new RegistrationCodes(await tempStore(t))
  const first = await codes.issue('i1', NOW)
  const second = await codes.issue('i1', NOW)
  await t.rejects(codes.consume('i1', first.registrationCode, NOW), { code: 'REGISTRATION_CODE_INVALID' })
  await codes.consume('i1', second.registrationCode, NOW)
})

t.test('an expired code is refused with REGISTRATION_CODE_MISSING', async (t) => {
  const codes = new RegistrationCodes(await tempStore(t))
  const { registrationCode } = await codes.issue('i1', NOW)
  await codes.check('i1', registrationCode, later(REGISTRATION_CODE_TTL_MS - 1))
  await t.rejects(codes.check('i1', registrationCode, later(REGISTRATION_CODE_TTL_MS)), { code: 'REGISTRATION_CODE_MISSING' })
  await t.rejects(codes.consume('i1', registrationCode, later(REGISTRATION_CODE_TTL_MS + 1)), { code: 'REGISTRATION_CODE_MISSING' })
  await t.rejects(codes.consume('i1', registrationCode, NOW), { code: 'REGISTRATION_CODE_MISSING' }, 'the expired code was removed')
})

t.test('with no code issued, REGISTRATION_CODE_MISSING; codes are per instance', async (t) => {
  const codes = new RegistrationCodes(await tempStore(t))
  await t.rejects(codes.consume('i1', 'x', NOW), { code: 'REGISTRATION_CODE_MISSING' })
  const { registrationCode } = await codes.issue('i1', NOW)
  await t.rejects(codes.consume('i2', registrationCode, NOW), { code: 'REGISTRATION_CODE_MISSING' })
  await codes.check('i1', registrationCode, NOW)
})

t.test('check does not consume the code', async (t) => {
  const codes = new RegistrationCodes(await tempStore(t))
  const { registrationCode } = await codes.issue('i1', NOW)
  await codes.check('i1', registrationCode, NOW)
  await codes.check('i1', registrationCode, NOW)
  await codes.consume('i1', registrationCode, NOW)
})

t.test('concurrent consumers of one code: exactly one succeeds', async (t) => {
  const codes = new RegistrationCodes(await tempStore(t))
  const { registrationCode } = await codes.issue('i1', NOW)
  const results = await Promise.allSettled(Array.from({ length: 10 }, () => codes.consume('i1', registrationCode, NOW)))
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
})
