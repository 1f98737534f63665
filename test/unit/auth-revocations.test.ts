import t from 'tap'
import { credentialKickFor, selects } from '../../src/auth/revocations'
import type { AccessKeyRecord, StaticAccountRecord } from '../../src/store/records'
import type { ChangeEvent } from '../../src/store/store'

const key = (status: AccessKeyRecord['status']): AccessKeyRecord => ({
  id: 'LTAIa', status, createdAt: '', updatedAt: '',
  secret: { keyId: 'k', wrappedKey: '', iv: '', tag: '', ciphertext: '' },
})
const account: StaticAccountRecord = { instanceId: 'amqp-1', accessKeyId: 'LTAIa', userName: 'MjphbXFwLTE6TFRBSWE=', createTimestamp: '1', createdAt: '' }
const session = { protocol: 'amqp' as const, instanceId: 'amqp-1', accessKeyId: 'LTAIa' }

t.test('disabling or deleting an AccessKey ends its AMQP sessions', async (t) => {
  const disable: ChangeEvent = { collection: 'accessKeys', scope: '_', id: 'LTAIa', op: 'put', record: key('Inactive'), previous: key('Active') }
  const kick = credentialKickFor(disable)
  t.equal(kick?.reason, 'ACCESS_KEY_DISABLED')
  t.ok(kick && selects(kick, session))
  t.notOk(kick && selects(kick, { ...session, accessKeyId: 'LTAIb' }))
  t.notOk(kick && selects(kick, { ...session, protocol: 'mqtt' }))
  const del = credentialKickFor({ collection: 'accessKeys', scope: '_', id: 'LTAIa', op: 'delete', record: key('Active') })
  t.equal(del?.reason, 'ACCESS_KEY_DISABLED')
})

t.test('enabling a key or editing a disabled one ends nothing', async (t) => {
  t.equal(credentialKickFor({ collection: 'accessKeys', scope: '_', id: 'LTAIa', op: 'put', record: key('Active'), previous: key('Inactive') }), undefined)
  t.equal(credentialKickFor({ collection: 'accessKeys', scope: '_', id: 'LTAIa', op: 'put', record: key('Inactive'), previous: key('Inactive') }), undefined)
  t.equal(credentialKickFor({ collection: 'staticAccounts', scope: 'amqp-1', id: 'LTAIa', op: 'put', record: account }), undefined)
})

t.test('deleting a static account ends only that static user\'s sessions on its instance', async (t) => {
  const kick = credentialKickFor({ collection: 'staticAccounts', scope: 'amqp-1', id: 'LTAIa', op: 'delete', record: account })
  t.equal(kick?.reason, 'STATIC_ACCOUNT_DELETED')
  t.ok(kick && selects(kick, { ...session, account: account.userName }))
  t.notOk(kick && selects(kick, session), 'a dynamic login with the same key stays')
  t.notOk(kick && selects(kick, { ...session, instanceId: 'amqp-2', account: account.userName }))
})
