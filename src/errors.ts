/**
 * One error type with stable codes. Callers branch on `code`, never on message text. The admin API
 * maps each code to an HTTP status (admin/errors.ts); the CLI prints `code: message`.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'configuration file or environment override is invalid',
  NOT_FOUND: 'the resource does not exist',
  ALREADY_EXISTS: 'a resource with this id already exists',
  VALIDATION_FAILED: 'the request body or parameters are invalid',
  CA_LIMIT_EXCEEDED: 'the instance already has the maximum number of CA certificates (32)',
  CA_HAS_ACTIVE_DEVICES: 'the CA certificate still has ACTIVE device certificates',
  CA_NOT_A_CA: 'the certificate is not a CA certificate (basicConstraints / keyUsage)',
  CA_DUPLICATE: 'this CA certificate is already registered on the instance',
  CERT_INVALID: 'the certificate could not be parsed',
  CERT_NOT_VALID_NOW: 'the certificate is not within its validity period',
  REGISTRATION_CODE_INVALID: 'the verification certificate CN is not the current registration code',
  REGISTRATION_CODE_MISSING: 'no current registration code; ask for one first',
  VERIFICATION_SIGNATURE_INVALID: 'the verification certificate is not signed by the CA key',
  DEVICE_NOT_UNDER_CA: 'the device certificate is not issued by a registered CA of this instance',
  DEVICE_REVOKED: 'the device certificate is REVOKED, which is terminal',
  ACCESS_KEY_INACTIVE: 'the AccessKey is disabled',
  STATIC_ACCOUNT_EXISTS: 'the AccessKey already has a static account on this instance',
  SIGNATURE_INVALID: 'the request signature does not verify',
  ACCESS_KEY_UNKNOWN: 'no AccessKey with this id may sign admin requests (answered as SIGNATURE_INVALID; told apart in the audit event only)',
  ACCESS_DENIED: 'the AccessKey signed the request correctly, but its policies do not allow this action on this resource',
  SIGNATURE_MISSING: 'the request is not signed',
  SIGNATURE_EXPIRED: 'the request date is outside the accepted window',
  NONCE_REUSED: 'the request nonce was used before',
  ACCOUNT_IN_USE: 'the account still has sub-accounts or AccessKeys; delete those first',
  POLICY_ATTACHED: 'the policy is still attached to a principal; detach it first',
  INSTANCE_IN_USE: 'the instance still holds ACTIVE CA or device certificates; delete with force=true',
  ADDRESS_IN_USE: 'a listener or the admin API cannot listen: the address is already in use',
  LISTEN_FAILED: 'a listener or the admin API cannot listen on its configured address',
  BODY_TOO_LARGE: 'the request body is too large',
  STORE_UNAVAILABLE: 'the store could not be reached',
  STORE_RESYNCING: 'the store answers, but this replica has not finished re-reading it since it was lost',
  STORE_LOCKED: 'another process holds the data directory of the embedded store',
  STORE_READ_ONLY: 'the store cannot write (disk full or read-only); it serves reads only until it can',
  SHUTTING_DOWN: 'the gateway is shutting down',
  CONFLICT: 'the resource was changed concurrently; retry',
  INTERNAL: 'internal error',
} as const

export type ErrorCode = keyof typeof ERROR_CODES

export class PortcullisError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code], options)
    this.code = code
    this.name = 'PortcullisError'
  }
}

export function isPortcullisError(err: unknown, code?: ErrorCode): err is PortcullisError {
  return err instanceof PortcullisError && (code === undefined || err.code === code)
}

export function assertNever(value: never, what = 'value'): never {
  throw new PortcullisError('INTERNAL', `unexpected ${what}: ${JSON.stringify(value)}`)
}
