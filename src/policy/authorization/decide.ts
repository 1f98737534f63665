import { matchesAction, matchesResource } from './pattern'
import type { DecidingStatement, Decision, PolicyDocument, PolicyVariables, Statement } from './types'

/**
 * REFERENCE decision (DESIGN §4 "Evaluation"): a statement applies when one of its action
 * patterns matches the action and one of its resource patterns matches the resource; an explicit
 * Deny that applies wins over every Allow; with no Allow that applies the answer is the implicit
 * deny. `by` names the first applying Deny in policy order, else the first applying Allow.
 *
 * Straightforward on purpose: it re-reads every pattern on every call. The data path uses the
 * compiled form (compile.ts), which must answer exactly as this does.
 *
 * MQTT shared subscriptions: a SUBSCRIBE filter `$share/<group>/<filter>` (MQTT 5 §4.8.2) is not
 * special-cased here; the caller strips `$share/<group>/` and decides on `<filter>`, which is
 * what the subscriber receives messages for.
 */
export function decide(policies: readonly PolicyDocument[], action: string, resource: string, vars: PolicyVariables): Decision {
  let allow: DecidingStatement | undefined
  for (const policy of policies) {
    for (let index = 0; index < policy.statements.length; index += 1) {
      const statement = policy.statements[index] as Statement
      if (!applies(statement, action, resource, vars)) continue
      if (statement.effect === 'Deny') return { allowed: false, by: { policy: policy.name, statement: index } }
      allow ??= { policy: policy.name, statement: index }
    }
  }
  return allow === undefined ? { allowed: false } : { allowed: true, by: allow }
}

function applies(statement: Statement, action: string, resource: string, vars: PolicyVariables): boolean {
  return statement.actions.some((pattern) => matchesAction(pattern, action)) &&
    statement.resources.some((pattern) => matchesResource(pattern, resource, vars))
}
