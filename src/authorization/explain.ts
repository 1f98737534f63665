import type { Decision } from '../policy/authorization/types'

/** What decided, for a refusal's detail (audit only; clients are told the reason code alone). */
export function decidedBy(decision: Decision): string {
  if (decision.by === undefined) return ' (no statement allows it)'
  return decision.by.statement < 0 ? ` (${decision.by.policy})` : ` (policy ${decision.by.policy}, statement ${decision.by.statement})`
}
