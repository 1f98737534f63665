import type { RefusalReason } from '../reasons'

/**
 * What a stage answers. Stages never write to or close the socket themselves (beyond their
 * protocol's own handshake messages): they return the next phase's context, or a refusal that the
 * runner (lifecycle/runner.ts) enforces, so every refusal goes through one place that audits,
 * counts and closes.
 */
export type Step<Next> = { readonly kind: 'next'; readonly ctx: Next } | Rejection

/** Refuse: send `reply` (a CONNACK, an AMQP Connection.Close…) if any, then close. */
export interface Rejection {
  readonly kind: 'reject'
  readonly reason: RefusalReason
  /** For the audit event only; never sent to the client. */
  readonly detail?: string
  readonly reply?: Buffer
  /** Identity learnt before the refusal (a claimed AccessKey, a device id), for the audit actor. */
  readonly actor?: Readonly<Record<string, string>>
  /** The instance and SNI a refusal concerns when its phase does not hold them yet (a refusal inside the TLS handshake). */
  readonly about?: { readonly instanceId: string; readonly sni?: string }
}

export function concerning(rejection: Rejection, about: NonNullable<Rejection['about']>): Rejection {
  return { ...rejection, about }
}

export function next<T>(ctx: T): Step<T> {
  return { kind: 'next', ctx }
}

export function reject(reason: RefusalReason, detail?: string, reply?: Buffer, actor?: Record<string, string>): Rejection {
  return {
    kind: 'reject', reason,
    ...(detail !== undefined ? { detail } : {}),
    ...(reply !== undefined ? { reply } : {}),
    ...(actor !== undefined ? { actor } : {}),
  }
}
