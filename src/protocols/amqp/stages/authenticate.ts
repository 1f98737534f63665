import type { PipelineDeps } from '../../../proxy/deps'
import type { Identified } from '../../../proxy/lifecycle/context'
import type { ClientIdentity } from '../../../proxy/session-registry'
import { next, reject, type Step } from '../../../proxy/verdict'
import type { AmqpSubject } from '../../../auth/authenticate'
import type { AmqpHello, Greeted } from '../phases'

/**
 * Checks the AccessKey-derived userName/password (DESIGN §1) and settles the instance: the SNI's
 * when the client sent one (the userName must name the same instance), else the one the userName
 * names. The password goes no further than this stage.
 */
export async function amqpAuthenticate(
  ctx: Greeted, deps: Pick<PipelineDeps, 'amqpAuth' | 'directory' | 'authorization'>,
): Promise<Step<Identified<AmqpHello>>> {
  const { credentials, frames, clientProperties, ...rest } = ctx
  const result = await deps.amqpAuth.authenticate({
    username: credentials.username,
    password: credentials.password,
    ...(ctx.instance !== undefined ? { instanceId: ctx.instance.id } : {}),
  })
  if (!result.ok) {
    const claimed = result.accessKeyId !== undefined ? { accessKeyId: result.accessKeyId } : undefined
    return reject(result.reason, result.detail, undefined, claimed)
  }
  const subject = result.subject
  const instance = ctx.instance ?? deps.directory.get(subject.instanceId)
  if (instance === undefined || instance.protocol !== 'amqp') {
    return reject('UNKNOWN_INSTANCE', `no AMQP instance ${subject.instanceId}`, undefined, { accessKeyId: subject.accessKeyId })
  }
  // Policies attach to the AccessKey's account (DESIGN §4): read only where they are enforced.
  const accountId = deps.authorization.enforces(instance.id) ? await deps.authorization.accountOf(subject.accessKeyId) : undefined
  return next({
    ...rest, phase: 'identified', instance,
    identity: { ...identityOf(subject), ...(accountId !== undefined ? { accountId } : {}) },
    actor: actorOf(subject),
    hello: { frames, clientProperties, subject },
  })
}

/** The identity an authenticated AMQP client is registered and checked under (explain.ts builds it the same way). */
export function identityOf(subject: AmqpSubject): ClientIdentity {
  return {
    accessKeyId: subject.accessKeyId,
    username: subject.username,
    ...(subject.account !== undefined ? { account: subject.account } : {}),
    ...(subject.expiresAt !== undefined ? { credentialExpiresAt: subject.expiresAt } : {}),
  }
}

function actorOf(subject: AmqpSubject): Record<string, string> {
  return {
    accessKeyId: subject.accessKeyId,
    authKind: subject.kind,
    ...(subject.account !== undefined ? { account: subject.account } : {}),
  }
}
