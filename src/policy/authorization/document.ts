import { z } from 'zod'
import { PortcullisError } from '../../errors'
import { parseOrThrow } from '../../instances/instance-schema'
import type { PolicyRecord } from '../../store/records'
import { matchesAction, topicStart } from './pattern'
import { ACTIONS, POLICY_VARIABLES, type Effect, type PolicyDocument, type Statement } from './types'

/**
 * A policy document as the admin API receives it (DESIGN §4: `PUT /v1/policies/{name}
 * {statements: [{effect, actions, resources}]}`), validated so that every stored pattern means
 * what its author meant: a misspelt action or variable would otherwise match nothing, silently —
 * harmless in an Allow, a hole in a Deny.
 */

export const POLICY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+=@-]{0,127}$/
export const MAX_STATEMENTS = 100
export const MAX_ENTRIES = 50
export const MAX_PATTERN_LENGTH = 512

const SERVICES = ['mqtt', 'amqp', 'admin'] as const
const KNOWN_ACTIONS: ReadonlySet<string> = new Set(ACTIONS)
const KNOWN_VARIABLES: ReadonlySet<string> = new Set(POLICY_VARIABLES)

/** What is wrong with an action name or pattern, or undefined. */
export function actionProblem(action: string): string | undefined {
  if (action === '*') return undefined
  const colon = action.indexOf(':')
  const service = action.slice(0, colon)
  const name = action.slice(colon + 1)
  if (colon < 0 || !(SERVICES as readonly string[]).includes(service) || name === '') {
    return `action ${quote(action)} is neither * nor <service>:<name> with service ${SERVICES.join(', ')}`
  }
  if (!name.includes('*')) return KNOWN_ACTIONS.has(action) ? undefined : `unknown action ${quote(action)}`
  const matched = ACTIONS.some((known) => known.startsWith(`${service}:`) && matchesAction(action, known))
  return matched ? undefined : `action pattern ${quote(action)} matches no known ${service} action`
}

/** What is wrong with a resource pattern, or undefined. */
export function resourceProblem(resource: string): string | undefined {
  for (let at = resource.indexOf('${'); at >= 0; at = resource.indexOf('${', at + 2)) {
    const close = resource.indexOf('}', at + 2)
    if (close < 0) return `unterminated \${ in ${quote(resource)}`
    const name = resource.slice(at + 2, close)
    if (!KNOWN_VARIABLES.has(name)) return `unknown variable \${${name}} in ${quote(resource)} (known: ${POLICY_VARIABLES.join(', ')})`
  }
  const start = topicStart(resource)
  if (start < 0) return undefined
  // MQTT 3.1.1 §4.7.1.2-3 (MQTT 5 §4.7.1.2-3): `#` alone as the last level, `+` alone in its level.
  const levels = resource.slice(start).split('/')
  for (let i = 0; i < levels.length; i += 1) {
    const level = levels[i] as string
    if (level.includes('+') && level !== '+') return `'+' must be a whole topic level in ${quote(resource)}`
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return `'#' must be the whole last topic level in ${quote(resource)}`
  }
  return undefined
}

const pattern = (problem: (value: string) => string | undefined): z.ZodType<string> =>
  z.string().min(1).max(MAX_PATTERN_LENGTH).superRefine((value, ctx) => {
    // zod runs refinements after a failed length check too: an oversized value is reported once, not echoed.
    if (value.length > MAX_PATTERN_LENGTH) return
    const message = problem(value)
    if (message !== undefined) ctx.addIssue({ code: 'custom', message })
  })

const statementSchema = z.strictObject({
  effect: z.enum(['Allow', 'Deny']),
  actions: z.array(pattern(actionProblem)).min(1).max(MAX_ENTRIES),
  resources: z.array(pattern(resourceProblem)).min(1).max(MAX_ENTRIES),
})

export const policyDocumentSchema = z.strictObject({
  statements: z.array(statementSchema).min(1).max(MAX_STATEMENTS),
})

/**
 * Validates a request body as the document `name`. Refusals are VALIDATION_FAILED naming the
 * place (`statements.2.actions.0`) and the bad value.
 */
export function parsePolicyDocument(name: string, input: unknown): PolicyDocument {
  if (!POLICY_NAME.test(name)) {
    throw new PortcullisError('VALIDATION_FAILED', `invalid policy name ${quote(name)}: letters, digits and _ . + = @ - (at most 128, starting with a letter or digit)`)
  }
  const body = parseOrThrow(policyDocumentSchema, input, `policy ${name}`)
  return freeze(name, body.statements)
}

/**
 * The PolicyDocument of a stored record (which parsePolicyDocument validated when it was put).
 * Copied and frozen, so that the compiled form never shares arrays with the store's records;
 * an effect that is not exactly `Allow` is read as `Deny` (fail closed on a damaged record).
 */
export function policyDocumentFromRecord(record: Pick<PolicyRecord, 'name' | 'statements'>): PolicyDocument {
  return freeze(record.name, record.statements)
}

function freeze(name: string, statements: readonly { effect: string; actions: readonly unknown[]; resources: readonly unknown[] }[]): PolicyDocument {
  const strings = (list: readonly unknown[]): readonly string[] => Object.freeze(list.filter((v): v is string => typeof v === 'string'))
  return Object.freeze({
    name,
    statements: Object.freeze(statements.map((s): Statement => Object.freeze({
      effect: (s.effect === 'Allow' ? 'Allow' : 'Deny') satisfies Effect,
      actions: strings(s.actions),
      resources: strings(s.resources),
    }))),
  })
}

/** A value in a message, cut short: the message goes back to the caller and into the audit log. */
function quote(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value)
}
