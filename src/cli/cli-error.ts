/**
 * Problems found on the client side, before or without an API answer. They print like API errors
 * (`code: message`, exit 1) but are not PortcullisError codes: those are the server's contract.
 */
export type CliErrorCode = 'USAGE' | 'ADMIN_UNREACHABLE' | 'ADMIN_KEY_MISSING' | 'FILE_UNREADABLE' | 'BAD_RESPONSE'

export class CliError extends Error {
  constructor(readonly code: CliErrorCode, message: string) {
    super(message)
    this.name = 'CliError'
  }
}
