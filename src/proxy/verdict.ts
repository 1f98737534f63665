import type { RefusalReason } from '../reasons'

/**
 * What a stage answers. Stages never write to or close the socket themselves: they return a
 * verdict and the runner (pipeline.ts) enforces it, so every refusal goes through one place that
 * audits, counts and closes.
 */
export type Verdict =
  | { kind: 'continue' }
  /** Refuse: send `reply` (a CONNACK, an AMQP Connection.Close…) if any, then close. */
  | { kind: 'reject'; reason: RefusalReason; detail?: string; reply?: Buffer }

export type Rejection = Extract<Verdict, { kind: 'reject' }>

export const CONTINUE: Verdict = Object.freeze({ kind: 'continue' })

export function reject(reason: RefusalReason, detail?: string, reply?: Buffer): Rejection {
  const verdict: Rejection = { kind: 'reject', reason }
  if (detail !== undefined) verdict.detail = detail
  if (reply !== undefined) verdict.reply = reply
  return verdict
}
