import { encodeUserName, secretSignFor, signatureFor } from '../../auth/credentials'
import { required, str } from '../args'
import { confirm } from '../confirm'
import type { GroupSpec } from '../spec'
import { adminClient, seg, type LeafSpec } from './context'
import { CREDENTIAL_OPTIONS, timestampOption } from './derive-credentials'

/**
 * `portcullis static-account create|list|delete` → /v1/instances/{id}/static-accounts (DESIGN §1
 * CreateAccount). `create` computes userName, signature and secretSign here, with the secret, so
 * the secret itself never travels: the gateway verifies the two HMACs against its sealed copy.
 */
const accountsPath = (instanceId: string): string => `/v1/instances/${seg(instanceId)}/static-accounts`
const [INSTANCE, ACCESS_KEY] = CREDENTIAL_OPTIONS

/** The CreateAccount body for `accessKeyId` on `instanceId` at `createTimestamp`. */
export function createAccountBody(instanceId: string, accessKeyId: string, accessKeySecret: string, createTimestamp: string): Record<string, unknown> {
  return {
    instanceId,
    accountAccessKey: accessKeyId,
    userName: encodeUserName({ type: 2, instanceId, accessKeyId }),
    createTimestamp: Number(createTimestamp),
    signature: signatureFor(accessKeySecret, createTimestamp),
    secretSign: secretSignFor(accessKeySecret, createTimestamp),
  }
}

const create: LeafSpec = {
  name: 'create',
  synopsis: '--instance ID --access-key AK --secret SK [--timestamp MS]',
  summary: 'CreateAccount, signed here with the secret (which is not sent)',
  options: CREDENTIAL_OPTIONS,
  async run(ctx, parsed) {
    const instanceId = required(str(parsed, 'instance'), '--instance')
    const body = createAccountBody(
      instanceId,
      required(str(parsed, 'access-key'), '--access-key'),
      required(str(parsed, 'secret'), '--secret'),
      timestampOption(str(parsed, 'timestamp'), Date.now),
    )
    ctx.print(await (await adminClient(ctx)).json('POST', accountsPath(instanceId), { body }))
    return 0
  },
}

const list: LeafSpec = {
  name: 'list',
  synopsis: '--instance ID',
  summary: 'list the static users of an AMQP instance (never their passwords)',
  options: [INSTANCE],
  async run(ctx, parsed) {
    ctx.print(await (await adminClient(ctx)).listAll(accountsPath(required(str(parsed, 'instance'), '--instance'))), { columns: ['accessKey', 'userName', 'createTimestamp'] })
    return 0
  },
}

const remove: LeafSpec = {
  name: 'delete',
  synopsis: '--instance ID --access-key AK [--yes]',
  summary: 'delete a static user: its logins stop working and its live connections close',
  options: [INSTANCE, ACCESS_KEY],
  destructive: true,
  async run(ctx, parsed) {
    const instanceId = required(str(parsed, 'instance'), '--instance')
    const accessKeyId = required(str(parsed, 'access-key'), '--access-key')
    const client = await adminClient(ctx)
    await confirm(ctx, parsed, `delete the static account of AccessKey ${accessKeyId} on instance ${instanceId}`)
    await client.request('DELETE', `${accountsPath(instanceId)}/${seg(accessKeyId)}`)
    ctx.print({ deleted: { instanceId, accessKey: accessKeyId } })
    return 0
  },
}

export const staticAccountGroup: GroupSpec = {
  name: 'static-account',
  section: 'AccessKeys and static AMQP users',
  summary: 'static AMQP users (CreateAccount): fixed userName/password from an AccessKey',
  commands: [create, list, remove],
}
