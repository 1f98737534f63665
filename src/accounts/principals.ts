/**
 * Principals a policy is attached to (DESIGN §4): `account:<id>`, `accessKey:<id>`,
 * `instance:<id>` (every client of the instance), `ca:<instanceId>/<caId>` (every device under
 * that CA), `device:<instanceId>/<deviceId>`. Parsed into a discriminated union, then checked
 * against the store: a grant to something that does not exist is almost always a typo, and one
 * made before the thing exists would silently apply to whatever later takes the name.
 *
 * The exception is a device: one may be granted before it first connects (auto-registration
 * creates its record then), so only its instance must exist and its id must have the shape of a
 * certificate fingerprint (64 lowercase hex digits, the SHA-256 of the DER).
 */
import { ACCESS_KEY_ID } from '../auth/credentials'
import { PortcullisError, assertNever } from '../errors'
import { INSTANCE_ID } from '../instances/instance-schema'
import type { Principal } from '../policy/authorization/types'
import { GLOBAL_SCOPE } from '../store/records'
import type { Store } from '../store/store'
import { ACCOUNT_ID } from './account-ids'
import type { AccountService } from './account-service'

export type ParsedPrincipal =
  | { readonly kind: 'account'; readonly accountId: string }
  | { readonly kind: 'accessKey'; readonly accessKeyId: string }
  | { readonly kind: 'instance'; readonly instanceId: string }
  | { readonly kind: 'ca'; readonly instanceId: string; readonly caId: string }
  | { readonly kind: 'device'; readonly instanceId: string; readonly deviceId: string }

/** A CA's and a device certificate's id: the lowercase hex SHA-256 of its DER (DESIGN §3). */
const FINGERPRINT = /^[0-9a-f]{64}$/
const MAX_PRINCIPAL = 300

const SHAPES = 'account:<id>, accessKey:<id>, instance:<id>, ca:<instanceId>/<caId> or device:<instanceId>/<deviceId>'

function malformed(detail: string): PortcullisError {
  return new PortcullisError('VALIDATION_FAILED', `principal: ${detail}; expected ${SHAPES}`)
}

/** Parses a principal string; VALIDATION_FAILED naming `principal` when it has none of the shapes. */
export function parsePrincipal(input: unknown): ParsedPrincipal {
  if (typeof input !== 'string' || input.length === 0 || input.length > MAX_PRINCIPAL) throw malformed('must be a string of 1 to 300 characters')
  const colon = input.indexOf(':')
  const kind = colon < 0 ? '' : input.slice(0, colon)
  const rest = input.slice(colon + 1)
  const pair = (what: string): [string, string] => {
    const slash = rest.indexOf('/')
    const instanceId = slash < 0 ? '' : rest.slice(0, slash)
    const id = slash < 0 ? '' : rest.slice(slash + 1)
    if (!INSTANCE_ID.test(instanceId)) throw malformed(`${kind}: needs an instance id before the /`)
    if (!FINGERPRINT.test(id)) throw malformed(`${kind}: the ${what} id must be 64 lowercase hex digits (its SHA-256 fingerprint)`)
    return [instanceId, id]
  }
  switch (kind) {
    case 'account':
      if (!ACCOUNT_ID.test(rest)) throw malformed('account: is not followed by an account id')
      return { kind, accountId: rest }
    case 'accessKey':
      if (!ACCESS_KEY_ID.test(rest)) throw malformed('accessKey: is not followed by an AccessKey id')
      return { kind, accessKeyId: rest }
    case 'instance':
      if (!INSTANCE_ID.test(rest)) throw malformed('instance: is not followed by an instance id')
      return { kind, instanceId: rest }
    case 'ca': {
      const [instanceId, caId] = pair('CA')
      return { kind, instanceId, caId }
    }
    case 'device': {
      const [instanceId, deviceId] = pair('device')
      return { kind, instanceId, deviceId }
    }
    default:
      throw malformed(`unknown kind "${kind}"`)
  }
}

export function formatPrincipal(p: ParsedPrincipal): Principal {
  switch (p.kind) {
    case 'account': return `account:${p.accountId}`
    case 'accessKey': return `accessKey:${p.accessKeyId}`
    case 'instance': return `instance:${p.instanceId}`
    case 'ca': return `ca:${p.instanceId}/${p.caId}`
    case 'device': return `device:${p.instanceId}/${p.deviceId}`
    default: return assertNever(p, 'principal')
  }
}

/** NOT_FOUND naming what is missing, unless the principal's subject exists (see the file comment). */
export async function assertPrincipalExists(store: Store, accounts: Pick<AccountService, 'find'>, p: ParsedPrincipal): Promise<void> {
  const missing = (what: string): never => {
    throw new PortcullisError('NOT_FOUND', `principal ${formatPrincipal(p)}: ${what} does not exist`)
  }
  switch (p.kind) {
    case 'account':
      if ((await accounts.find(p.accountId)) === undefined) missing(`account ${p.accountId}`)
      return
    case 'accessKey':
      if ((await store.get('accessKeys', GLOBAL_SCOPE, p.accessKeyId)) === undefined) missing(`AccessKey ${p.accessKeyId}`)
      return
    case 'instance':
    case 'device':
      if ((await store.get('instances', GLOBAL_SCOPE, p.instanceId)) === undefined) missing(`instance ${p.instanceId}`)
      return
    case 'ca':
      if ((await store.get('instances', GLOBAL_SCOPE, p.instanceId)) === undefined) missing(`instance ${p.instanceId}`)
      if ((await store.get('cas', p.instanceId, p.caId)) === undefined) missing(`CA ${p.caId} of instance ${p.instanceId}`)
      return
    default:
      assertNever(p, 'principal')
  }
}
