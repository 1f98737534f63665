import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { KICK_REASONS, REFUSAL_REASONS } from '../../src/reasons'

t.test('every reason code is documented in docs/reason-codes.md', async (t) => {
  const doc = readFileSync(join(__dirname, '../../docs/reason-codes.md'), 'utf8')
  for (const code of [...REFUSAL_REASONS, ...KICK_REASONS]) {
    t.match(doc, new RegExp('`' + code + '`'), `${code} is documented`)
  }
})

t.test('reason codes are unique within their list', async (t) => {
  t.equal(new Set(REFUSAL_REASONS).size, REFUSAL_REASONS.length)
  t.equal(new Set(KICK_REASONS).size, KICK_REASONS.length)
})
