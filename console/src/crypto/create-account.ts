import { base64Utf8, hmacSha1, toHex } from '../api/signing'

/**
 * The CreateAccount request done in the page (DESIGN §1 "RabbitMQ (AMQP) clients"), as
 * src/auth/static-accounts.ts checks it and src/auth/credentials.ts derives the password:
 *
 *   userName   = Base64( "2:" instanceId ":" accessKeyId )
 *   signature  = HEX( HMAC-SHA1(key = accessKeySecret, message = createTimestamp) )
 *   secretSign = HEX( HMAC-SHA1(key = createTimestamp, message = accessKeySecret) )
 *   password   = Base64( UPPER_HEX( HMAC-SHA1(key = createTimestamp, message = accessKeySecret) ) ":" createTimestamp )
 *
 * The AccessKey secret goes into the two HMACs only: the request carries the proofs, never the
 * secret. The password is the server's answer; `passwordFor` lets the page check it.
 */
export interface CreateAccountInput {
  instanceId: string
  accessKeyId: string
  accessKeySecret: string
  /** Milliseconds since the epoch; the static user's fixed timestamp. */
  createTimestamp: number
}

export interface CreateAccountBody {
  instanceId: string
  accountAccessKey: string
  userName: string
  createTimestamp: number
  signature: string
  secretSign: string
}

export function staticUserName(instanceId: string, accessKeyId: string): string {
  return base64Utf8(`2:${instanceId}:${accessKeyId}`)
}

export async function createAccountBody(input: CreateAccountInput): Promise<CreateAccountBody> {
  if (!Number.isSafeInteger(input.createTimestamp) || input.createTimestamp < 0) throw new Error('createTimestamp must be a millisecond Unix time')
  const ts = String(input.createTimestamp)
  return {
    instanceId: input.instanceId,
    accountAccessKey: input.accessKeyId,
    userName: staticUserName(input.instanceId, input.accessKeyId),
    createTimestamp: input.createTimestamp,
    signature: toHex(await hmacSha1(input.accessKeySecret, ts)).toUpperCase(),
    secretSign: toHex(await hmacSha1(ts, input.accessKeySecret)).toUpperCase(),
  }
}

/** The AMQP password of a static user (or a dynamic login at `ts`). */
export async function passwordFor(accessKeySecret: string, ts: string): Promise<string> {
  const hex = toHex(await hmacSha1(ts, accessKeySecret)).toUpperCase()
  return base64Utf8(`${hex}:${ts}`)
}
