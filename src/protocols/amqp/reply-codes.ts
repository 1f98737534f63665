/**
 * AMQP 0-9-1 reply codes (spec §1.2 "constants"; the XML's soft/hard error classes). A Close with
 * a hard-error code (5xx, 3xx, 4xx at connection level) ends the connection (§2.3.7).
 */
export const REPLY_CODES = {
  REPLY_SUCCESS: 200,
  CONNECTION_FORCED: 320,
  INVALID_PATH: 402,
  ACCESS_REFUSED: 403,
  NOT_FOUND: 404,
  RESOURCE_LOCKED: 405,
  PRECONDITION_FAILED: 406,
  FRAME_ERROR: 501,
  SYNTAX_ERROR: 502,
  COMMAND_INVALID: 503,
  CHANNEL_ERROR: 504,
  UNEXPECTED_FRAME: 505,
  RESOURCE_ERROR: 506,
  NOT_ALLOWED: 530,
  NOT_IMPLEMENTED: 540,
  INTERNAL_ERROR: 541,
} as const

export type ReplyCode = (typeof REPLY_CODES)[keyof typeof REPLY_CODES]
