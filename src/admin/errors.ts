import { ERROR_CODES, PortcullisError, type ErrorCode } from '../errors'

/**
 * HTTP status for every PortcullisError code (DESIGN §3: errors are `{code, message, requestId}`
 * "with a fitting HTTP status"). A Record over ErrorCode, so adding a code without a status is a
 * compile error; test/unit/admin-errors.test.ts checks it at run time as well.
 *
 * Choices:
 * - 400 for a request that is malformed as such (VALIDATION_FAILED);
 * - 422 for a well-formed request whose certificates fail the registration rules (unparseable,
 *   not a CA, out of validity, wrong registration code, bad proof of possession);
 * - 409 for a request that conflicts with the current state: duplicates, the 32-CA limit
 *   (CA_LIMIT_EXCEEDED: the same request succeeds once a CA is deleted, so it is a state conflict,
 *   not a malformed request), ACTIVE devices under a CA being deleted, a REVOKED device, an
 *   account that still has sub-accounts or AccessKeys, a policy that is still attached;
 * - 401 for every signature failure, including a replayed nonce; 403 for a disabled AccessKey and
 *   for a correctly signed request its policies do not allow (ACCESS_DENIED);
 * - 503 when the store is unreachable or this replica is still re-reading it after it was lost
 *   (the client may retry); 500 for everything else, with the
 *   generic message only (internals are logged, never returned).
 */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  CONFIG_INVALID: 500,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  VALIDATION_FAILED: 400,
  CA_LIMIT_EXCEEDED: 409,
  CA_HAS_ACTIVE_DEVICES: 409,
  CA_NOT_A_CA: 422,
  CA_DUPLICATE: 409,
  CERT_INVALID: 422,
  CERT_NOT_VALID_NOW: 422,
  REGISTRATION_CODE_INVALID: 422,
  REGISTRATION_CODE_MISSING: 422,
  VERIFICATION_SIGNATURE_INVALID: 422,
  DEVICE_NOT_UNDER_CA: 422,
  DEVICE_REVOKED: 409,
  ACCESS_KEY_INACTIVE: 403,
  STATIC_ACCOUNT_EXISTS: 409,
  SIGNATURE_INVALID: 401,
  ACCESS_KEY_UNKNOWN: 401,
  ACCESS_DENIED: 403,
  SIGNATURE_MISSING: 401,
  SIGNATURE_EXPIRED: 401,
  NONCE_REUSED: 401,
  ACCOUNT_IN_USE: 409,
  POLICY_ATTACHED: 409,
  INSTANCE_IN_USE: 409,
  ADDRESS_IN_USE: 500,
  LISTEN_FAILED: 500,
  BODY_TOO_LARGE: 413,
  STORE_UNAVAILABLE: 503,
  STORE_RESYNCING: 503,
  STORE_LOCKED: 503,
  STORE_READ_ONLY: 503,
  SHUTTING_DOWN: 503,
  CONFLICT: 409,
  INTERNAL: 500,
}

export interface ErrorBody {
  code: ErrorCode
  message: string
  requestId: string
}

/** Codes whose message may carry internals (paths, stack-ish text): answered generically. */
const GENERIC_MESSAGE = new Set<ErrorCode>(['INTERNAL', 'CONFIG_INVALID', 'STORE_UNAVAILABLE'])

/** The status and body for any thrown value; non-Portcullis errors become INTERNAL. */
export function toErrorResponse(err: unknown, requestId: string): { status: number; body: ErrorBody } {
  if (err instanceof PortcullisError) {
    const message = GENERIC_MESSAGE.has(err.code) ? ERROR_CODES[err.code] : err.message
    return { status: HTTP_STATUS[err.code], body: { code: err.code, message, requestId } }
  }
  const fastifyCode = (err as { code?: unknown } | null)?.code
  const statusCode = (err as { statusCode?: unknown } | null)?.statusCode
  // Fastify's own client errors (malformed JSON, unsupported media type, body limit) are the
  // caller's fault; map them onto our codes rather than answering 500.
  if (fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE') return fromCode('BODY_TOO_LARGE', requestId)
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return { status: 400, body: { code: 'VALIDATION_FAILED', message: (err as Error).message, requestId } }
  }
  return fromCode('INTERNAL', requestId)
}

function fromCode(code: ErrorCode, requestId: string): { status: number; body: ErrorBody } {
  return { status: HTTP_STATUS[code], body: { code, message: ERROR_CODES[code], requestId } }
}
