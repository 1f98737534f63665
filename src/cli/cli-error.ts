/**
 * Problems found on the client side, before or without an API answer. They print like API errors
 * (`code: message`, exit 1) but are not PortcullisError codes: those are the server's contract.
 * `hint` is the line that says what to do about it, printed under the message.
 */
export type CliErrorCode =
  | 'USAGE' | 'ADMIN_UNREACHABLE' | 'ADMIN_KEY_MISSING' | 'FILE_UNREADABLE' | 'BAD_RESPONSE'
  | 'CONFIRMATION_REQUIRED' | 'NOT_CONFIRMED' | 'ROTATION_FAILED'

export class CliError extends Error {
  constructor(readonly code: CliErrorCode, message: string, readonly hint?: string) {
    super(message)
    this.name = 'CliError'
  }
}
