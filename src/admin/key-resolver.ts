import type { AccessKeyService } from '../auth/access-keys'
import type { RootAccessKey } from './root-key'
import { rootKeyResolver } from './root-key'
import type { KeyResolver } from './signing'

/**
 * Which keys the admin API knows, and which of them may administer. Only the root AccessKey
 * administers the gateway. Keys created through the API are the credentials of AMQP clients: one
 * leaked from a client must not open the admin API (there is no policy system to scope them yet),
 * so a request they sign is refused 403 ACCESS_DENIED — but only after its signature verified, so
 * only the key's holder learns that the key exists (signing.ts explains what each answer says).
 * A disabled key throws ACCESS_KEY_INACTIVE from secretOf, which verifyRequest answers like an
 * unknown key.
 */
export function adminKeyResolver(
  root: Pick<RootAccessKey, 'accessKeyId' | 'accessKeySecret'>,
  accessKeys: Pick<AccessKeyService, 'secretOf'>,
): KeyResolver {
  const rootResolver = rootKeyResolver(root)
  return async (accessKeyId) => {
    const rootKey = await rootResolver(accessKeyId)
    if (rootKey !== undefined) return rootKey
    const secret = await accessKeys.secretOf(accessKeyId)
    return secret === undefined ? undefined : { secret, mayAdminister: false }
  }
}
