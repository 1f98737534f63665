import type { FastifyRequest } from 'fastify'
import { isPortcullisError } from '../errors'
import type { AdminContext } from './context'
import type { RefusalAudit } from './refusal-audit'
import { requestSource } from './request'
import { AdminAuthError, parseAuthorization, verifyRequest } from './signing'

/**
 * preHandler for every /v1 route: the request must be signed (DESIGN §3). Runs after body parsing
 * because the signature covers HEX_SHA256 of the raw body. A refusal is an audit event with
 * outcome failure (DESIGN §1 "Audit"), aggregated per source and code (refusal-audit.ts), and then
 * the error answer: 401 with the code. The audit reason may be more precise than the answer
 * (ACCESS_KEY_UNKNOWN is answered SIGNATURE_INVALID; signing.ts says why). A verified request goes
 * on to the authorization hook (authorization/hook.ts), which decides what the key may do.
 */
export function signatureHook(ctx: AdminContext, refusals: RefusalAudit) {
  return async (req: FastifyRequest): Promise<void> => {
    try {
      const verified = await verifyRequest({
        method: req.method,
        url: req.raw.url ?? req.url,
        headers: req.headers,
        body: req.rawBody ?? '',
        resolveSecret: ctx.keyResolver,
        claimNonce: (nonce, ttlMs) => ctx.store.claimNonce(nonce, ttlMs),
      })
      req.accessKeyId = verified.accessKeyId
      req.log = req.log.child({ accessKeyId: verified.accessKeyId })
    } catch (err) {
      // The id claimed in the header is recorded (it is not a secret) so an operator can see
      // which key is being tried; the signature itself is not.
      const claimed = parseAuthorization(typeof req.headers.authorization === 'string' ? req.headers.authorization : undefined)
      refusals.refused({
        source: requestSource(req),
        reason: err instanceof AdminAuthError ? err.auditReason : isPortcullisError(err) ? err.code : 'INTERNAL',
        ...(claimed !== undefined ? { accessKeyId: claimed.accessKeyId } : {}),
        method: req.method,
        path: (req.raw.url ?? req.url).split('?')[0] ?? '',
        requestId: req.id,
      })
      throw err
    }
  }
}
