/**
 * Static AMQP users, CreateAccount (DESIGN §1): collection `staticAccounts`, scope = instance id,
 * id = AccessKey id — hence "one AccessKey has at most one static user per instance" is the
 * store's own create-if-absent (STATIC_ACCOUNT_EXISTS); to change one, delete and recreate.
 *
 * The password is NOT stored: it is Base64(HEX(HMAC-SHA1(createTimestamp, secret)) ":" ts), so
 * the record keeps only the createTimestamp and the authenticator recomputes it from the sealed
 * secret. A list call therefore cannot leak a password; it has none to leak.
 *
 * CreateAccount proves knowledge of the AccessKey secret twice over (DESIGN §1):
 *   signature  = HEX(HMAC-SHA1(key = secret, message = createTimestamp))
 *   secretSign = HEX(HMAC-SHA1(key = createTimestamp, message = secret))
 * both compared case-insensitively in constant time.
 */
import { PortcullisError } from '../errors'
import { GLOBAL_SCOPE } from '../store/records'
import type { StaticAccountRecord } from '../store/records'
import type { Store } from '../store/store'
import { accessKeyLock } from './access-keys'
import type { AccessKeyService } from './access-keys'
import { hexEqual, INSTANCE_ID, parseUserName, passwordFor, secretSignFor, signatureFor, TIMESTAMP } from './credentials'

export interface StaticAccountView {
  instanceId: string
  accessKey: string
  userName: string
  createTimestamp: number
  createdAt: string
}

export interface CreateAccountAnswer {
  userName: string
  password: string
  accessKey: string
  createTimestamp: number
  instanceId: string
}

interface CreateAccountInput {
  instanceId?: string
  accountAccessKey: string
  userName: string
  createTimestamp: string
  signature: string
  secretSign: string
}

const HEX_40 = /^[0-9A-Fa-f]{40}$/

export function staticAccountView(record: StaticAccountRecord): StaticAccountView {
  return {
    instanceId: record.instanceId,
    accessKey: record.accessKeyId,
    userName: record.userName,
    createTimestamp: Number(record.createTimestamp),
    createdAt: record.createdAt,
  }
}

export class StaticAccountService {
  constructor(
    private readonly store: Store,
    private readonly accessKeys: Pick<AccessKeyService, 'secretOf'>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** CreateAccount on `instanceId` (the path's instance). Answers the password once. */
  async create(instanceId: string, body: unknown): Promise<CreateAccountAnswer & { after: StaticAccountView }> {
    const input = parseCreateAccount(body)
    if (input.instanceId !== undefined && input.instanceId !== instanceId) {
      throw new PortcullisError('VALIDATION_FAILED', `instanceId ${input.instanceId} is not the instance ${instanceId} of the request path`)
    }
    await this.assertAmqpInstance(instanceId)
    checkUserName(input, instanceId)
    const accessKeyId = input.accountAccessKey
    return this.store.withLock(accessKeyLock(accessKeyId), async () => {
      const secret = await this.accessKeys.secretOf(accessKeyId) // ACCESS_KEY_INACTIVE propagates
      if (secret === undefined) throw new PortcullisError('NOT_FOUND', `AccessKey ${accessKeyId} does not exist`)
      // Both are computed and compared before either is judged, so timing shows nothing about which failed.
      const signatureOk = hexEqual(input.signature, signatureFor(secret, input.createTimestamp))
      const secretSignOk = hexEqual(input.secretSign, secretSignFor(secret, input.createTimestamp))
      if (!signatureOk) throw new PortcullisError('SIGNATURE_INVALID', 'signature is not HEX(HMAC-SHA1(accessKeySecret, createTimestamp))')
      if (!secretSignOk) throw new PortcullisError('SIGNATURE_INVALID', 'secretSign is not HEX(HMAC-SHA1(createTimestamp, accessKeySecret))')
      const record: StaticAccountRecord = {
        instanceId,
        accessKeyId,
        userName: input.userName,
        createTimestamp: input.createTimestamp,
        createdAt: this.now().toISOString(),
      }
      try {
        await this.store.create('staticAccounts', instanceId, accessKeyId, record)
      } catch (err) {
        if (err instanceof PortcullisError && err.code === 'ALREADY_EXISTS') {
          throw new PortcullisError('STATIC_ACCOUNT_EXISTS', `AccessKey ${accessKeyId} already has a static account on instance ${instanceId}; delete it first`)
        }
        throw err
      }
      const after = staticAccountView(record)
      return { userName: input.userName, password: passwordFor(secret, input.createTimestamp), accessKey: accessKeyId, createTimestamp: after.createTimestamp, instanceId, after }
    })
  }

  /** The instance's static accounts, without passwords (none are stored). */
  async list(instanceId: string): Promise<StaticAccountView[]> {
    await this.assertAmqpInstance(instanceId)
    const all = await this.store.list('staticAccounts', instanceId)
    return all.sort((a, b) => a.accessKeyId.localeCompare(b.accessKeyId)).map(staticAccountView)
  }

  /** Deletes the static account; logins with it fail from now on (DESIGN §1). */
  async delete(instanceId: string, accessKeyId: string): Promise<{ before: StaticAccountView }> {
    const before = await this.store.take('staticAccounts', instanceId, accessKeyId)
    if (before === undefined) {
      throw new PortcullisError('NOT_FOUND', `AccessKey ${accessKeyId} has no static account on instance ${instanceId}`)
    }
    return { before: staticAccountView(before) }
  }

  /** For the authenticator: the record, or undefined. */
  find(instanceId: string, accessKeyId: string): Promise<StaticAccountRecord | undefined> {
    return this.store.get('staticAccounts', instanceId, accessKeyId)
  }

  private async assertAmqpInstance(instanceId: string): Promise<void> {
    const instance = await this.store.get('instances', GLOBAL_SCOPE, instanceId)
    if (instance === undefined) throw new PortcullisError('NOT_FOUND', `instance ${instanceId} does not exist`)
    if (instance.protocol !== 'amqp') throw new PortcullisError('VALIDATION_FAILED', `instance ${instanceId} is not an AMQP instance`)
  }
}

/** The userName must be TYPE 2 for this very instance and AccessKey. */
function checkUserName(input: CreateAccountInput, instanceId: string): void {
  const parsed = parseUserName(input.userName)
  if (!parsed.ok) throw new PortcullisError('VALIDATION_FAILED', parsed.detail)
  const u = parsed.value
  if (u.kind !== 'static') throw new PortcullisError('VALIDATION_FAILED', 'userName must be TYPE 2 (static user)')
  if (u.instanceId !== instanceId) throw new PortcullisError('VALIDATION_FAILED', `userName names instance ${u.instanceId}, not ${instanceId}`)
  if (u.accessKeyId !== input.accountAccessKey) throw new PortcullisError('VALIDATION_FAILED', 'userName names another AccessKey than accountAccessKey')
}

function parseCreateAccount(body: unknown): CreateAccountInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new PortcullisError('VALIDATION_FAILED', 'CreateAccount expects a JSON object')
  }
  const b = body as Record<string, unknown>
  const problems: string[] = []
  const text = (name: string, max: number): string => {
    const v = b[name]
    if (typeof v !== 'string' || v.length === 0 || v.length > max) problems.push(`${name} must be a non-empty string`)
    return typeof v === 'string' ? v : ''
  }
  const accountAccessKey = text('accountAccessKey', 128)
  const userName = text('userName', 1024)
  const signature = text('signature', 40)
  const secretSign = text('secretSign', 40)
  if (signature !== '' && !HEX_40.test(signature)) problems.push('signature must be 40 hex digits (HMAC-SHA1)')
  if (secretSign !== '' && !HEX_40.test(secretSign)) problems.push('secretSign must be 40 hex digits (HMAC-SHA1)')
  const createTimestamp = parseTimestamp(b.createTimestamp)
  if (createTimestamp === undefined) problems.push('createTimestamp must be a millisecond Unix time (integer)')
  const instanceId = b.instanceId
  if (instanceId !== undefined && (typeof instanceId !== 'string' || !INSTANCE_ID.test(instanceId))) problems.push('instanceId is malformed')
  if (problems.length > 0 || createTimestamp === undefined) {
    throw new PortcullisError('VALIDATION_FAILED', `invalid CreateAccount request: ${problems.join('; ')}`)
  }
  return {
    accountAccessKey, userName, createTimestamp, signature, secretSign,
    ...(typeof instanceId === 'string' ? { instanceId } : {}),
  }
}

/** Aliyun sends a long; a decimal string is accepted too. Canonical decimal, a safe integer. */
function parseTimestamp(value: unknown): string | undefined {
  const s = typeof value === 'number' ? (Number.isSafeInteger(value) && value >= 0 ? String(value) : '') : value
  if (typeof s !== 'string' || !TIMESTAMP.test(s) || !Number.isSafeInteger(Number(s))) return undefined
  return s
}
