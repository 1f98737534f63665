import type { AccessKeyService } from '../auth/access-keys'
import type { RootAccessKey } from './root-key'
import { rootKeyResolver } from './root-key'
import type { KeyResolver } from './signing'

/**
 * Which keys may sign admin requests: the root AccessKey and every stored AccessKey that is
 * Active (DESIGN §4 "Any AccessKey may sign admin calls"). What a key may then do is decided after
 * its signature verified (src/admin/authorization/): the root key and the keys of the `root`
 * account everything, any other key what its policies grant. A disabled key throws
 * ACCESS_KEY_INACTIVE from secretOf, which verifyRequest answers like an unknown key.
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
    return secret === undefined ? undefined : { secret }
  }
}
