import { readFileSync } from 'node:fs'
import type { PolicyDecisionFigures } from './policy-decision'
import { ratio, type Results, type Row } from './results'
import type { DecisionCounts } from './servers/portcullis'

/**
 * The authorization row of issue 11 ("MQTT and AMQP 64 B message crossing with `enforce` and a
 * 50-statement policy, as a ratio to the same run with `off` (goal ≤ 1.10), and the decision's
 * own cost in ns"), read from the figures the throughput runs left in Results.
 *
 * A ratio counts only when the enforced endpoint really delivered: a policy that refused the
 * bench's publishes or deliveries would make the gateway do less and look cheaper. So each
 * protocol's figures are judged valid when the enforced endpoint delivered something, its
 * counters show the data actions decided and none denied, and (MQTT) it lost no more than the
 * off one plus a point of noise. AMQP's "not consumed at drain end" is RabbitMQ's backlog, not a
 * loss (RabbitMQ drops nothing): a denied publish would close the channel and leave the consumer
 * with nothing, which the first two checks catch; the backlog is reported, not judged.
 */
export const AUTHORIZATION_GOAL = 1.1
/** Percentage points of loss the enforced endpoint may have above the off one and still count. */
const LOSS_MARGIN = 1
const SIZE = 64
/** The actions on the path of every message, per protocol. */
const DATA_ACTIONS = { mqtt: ['mqtt:Publish', 'mqtt:Receive'], amqp: ['amqp:Publish'] } as const

export interface ProtocolVerdict {
  protocol: 'mqtt' | 'amqp'
  /** enforce ÷ off of proxy CPU per message crossing (published + delivered). */
  cpuPerCrossing?: { off: number; enforce: number; ratio: number }
  /** off ÷ enforce of delivered (consumed) msgs/s: how many times slower enforcing is. */
  rate?: { off: number; enforce: number; slowdown: number }
  loss?: { off: number; enforce: number }
  /** Decisions counted by the enforced gateway during its run. */
  decisions?: DecisionCounts
  /** Messages the publishers wrote and the receiver got, on the enforced endpoint. */
  published?: number
  received?: number
  /** Why the figures of this protocol do not count, when they do not. */
  invalid?: string
  met?: boolean
}

export interface AuthorizationSummary {
  goal: number
  protocols: ProtocolVerdict[]
  decision?: PolicyDecisionFigures
  decisionError?: string
  audit?: AuditCounts
  /** Met: every protocol measured, valid, and both of its ratios ≤ goal. */
  met: boolean
}

export interface AuditCounts {
  /** `authorization.denied` events and the denials they count (aggregated events carry `count`). */
  deniedEvents: number
  denials: number
  /** `connection.rejected` with reason NOT_AUTHORIZED. */
  refusedConnects: number
  kicked: number
  /** The first denial seen, to say what was refused. */
  firstDenied?: { action: unknown; resource: unknown }
}

/** Reads the enforced gateway's audit file: every refusal of the run is there (DESIGN §4). */
export function auditCounts(file: string): AuditCounts {
  const counts: AuditCounts = { deniedEvents: 0, denials: 0, refusedConnects: 0, kicked: 0 }
  let text = ''
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return counts
  }
  for (const line of text.split('\n')) {
    if (line === '') continue
    let event: { type?: unknown; reason?: unknown; details?: { action?: unknown; resource?: unknown; count?: unknown } }
    try {
      event = JSON.parse(line) as typeof event
    } catch {
      continue
    }
    if (event.type === 'authorization.denied') {
      counts.deniedEvents += 1
      counts.denials += typeof event.details?.count === 'number' ? event.details.count : 1
      counts.firstDenied ??= { action: event.details?.action, resource: event.details?.resource }
    } else if (event.type === 'connection.rejected' && event.reason === 'NOT_AUTHORIZED') counts.refusedConnects += 1
    else if (event.type === 'session.kicked') counts.kicked += 1
  }
  return counts
}

export function summarizeAuthorization(results: Results, o: { decision?: PolicyDecisionFigures; decisionError?: string; audit?: AuditCounts }): AuthorizationSummary {
  const protocols = (['mqtt', 'amqp'] as const).map((p) => verdict(results, p))
  return {
    goal: AUTHORIZATION_GOAL,
    protocols,
    ...(o.decision !== undefined ? { decision: o.decision } : {}),
    ...(o.decisionError !== undefined ? { decisionError: o.decisionError } : {}),
    ...(o.audit !== undefined ? { audit: o.audit } : {}),
    met: protocols.every((v) => v.met === true),
  }
}

function verdict(results: Results, protocol: 'mqtt' | 'amqp'): ProtocolVerdict {
  const row = (id: string): Row | undefined => results.rows.find((r) => r.id === `${protocol}-${SIZE}-${id}`)
  const cpu = row('cpu-crossing')
  const rate = row('rate')
  const loss = row('loss')
  const v: ProtocolVerdict = { protocol }
  const cpuRatio = cpu === undefined ? undefined : ratio(cpu, 'portcullisEnforce', 'portcullis')
  if (cpu !== undefined && cpuRatio !== undefined) v.cpuPerCrossing = { off: cpu.values.portcullis ?? 0, enforce: cpu.values.portcullisEnforce ?? 0, ratio: cpuRatio }
  const slowdown = rate === undefined ? undefined : ratio(rate, 'portcullis', 'portcullisEnforce')
  if (rate !== undefined && slowdown !== undefined) v.rate = { off: rate.values.portcullis ?? 0, enforce: rate.values.portcullisEnforce ?? 0, slowdown }
  const lossOff = loss?.values.portcullis
  const lossOn = loss?.values.portcullisEnforce
  if (lossOff !== undefined && lossOn !== undefined) v.loss = { off: lossOff, enforce: lossOn }
  const detail = results.details.find((d) => d.endpoint === 'portcullisEnforce' && d.measurement === `${protocol} throughput ${SIZE} B`)
  const decisions = detail?.decisions as DecisionCounts | undefined
  if (decisions !== undefined) v.decisions = decisions

  const received = typeof detail?.received === 'number' ? detail.received : 0
  if (typeof detail?.published === 'number') v.published = detail.published
  if (detail !== undefined) v.received = received
  if (detail !== undefined && received === 0) v.invalid = 'the enforced endpoint delivered nothing'
  else if (v.cpuPerCrossing === undefined || v.rate === undefined) v.invalid = 'not measured on both endpoints (see the notes)'
  else if (protocol === 'mqtt' && v.loss !== undefined && v.loss.enforce > v.loss.off + LOSS_MARGIN) v.invalid = `the enforced endpoint lost ${v.loss.enforce.toFixed(1)} % against ${v.loss.off.toFixed(1)} % off`
  else {
    const denied = DATA_ACTIONS[protocol].filter((a) => (decisions?.[a]?.deny ?? 0) > 0)
    const undecided = DATA_ACTIONS[protocol].filter((a) => (decisions?.[a]?.allow ?? 0) === 0)
    if (denied.length > 0) v.invalid = `the enforced gateway denied ${denied.map((a) => `${a} ×${decisions?.[a]?.deny ?? 0}`).join(', ')}`
    else if (undecided.length > 0) v.invalid = `the enforced gateway counted no allowed ${undecided.join(', ')}: is it enforcing?`
  }
  if (v.invalid === undefined && v.cpuPerCrossing !== undefined && v.rate !== undefined) {
    v.met = v.cpuPerCrossing.ratio <= AUTHORIZATION_GOAL && v.rate.slowdown <= AUTHORIZATION_GOAL
  }
  return v
}

const fixed = (n: number, d: number): string => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })

export function authorizationMarkdown(s: AuthorizationSummary): string {
  const lines = [
    `Authorization (issue 11): Portcullis enforce (50-statement policies) against Portcullis off, same run; goal ≤ ${s.goal.toFixed(2)}`,
    '',
    '| figure | off | enforce | ratio | goal met |',
    '| --- | ---: | ---: | ---: | --- |',
  ]
  for (const v of s.protocols) {
    const P = v.protocol.toUpperCase()
    const met = v.invalid !== undefined ? `not valid: ${v.invalid}` : undefined
    const cell = (r: number): string => met ?? (r <= s.goal ? 'yes' : 'no')
    if (v.cpuPerCrossing !== undefined) {
      const c = v.cpuPerCrossing
      lines.push(`| ${P} ${SIZE} B: proxy CPU per message crossing (µs), enforce ÷ off | ${fixed(c.off, 2)} | ${fixed(c.enforce, 2)} | ${c.ratio.toFixed(2)} | ${cell(c.ratio)} |`)
    }
    if (v.rate !== undefined) {
      const r = v.rate
      lines.push(`| ${P} ${SIZE} B: ${v.protocol === 'mqtt' ? 'delivered' : 'consumed'} (msgs/s), off ÷ enforce | ${fixed(r.off, 0)} | ${fixed(r.enforce, 0)} | ${r.slowdown.toFixed(2)} | ${cell(r.slowdown)} |`)
    }
    if (v.cpuPerCrossing === undefined && v.rate === undefined) lines.push(`| ${P} ${SIZE} B | — | — | — | ${met ?? '—'} |`)
  }
  lines.push('')
  for (const v of s.protocols) {
    const parts: string[] = []
    const lost = v.protocol === 'mqtt' ? 'loss' : 'not consumed at drain end (RabbitMQ backlog)'
    if (v.loss !== undefined) parts.push(`${lost} off ${v.loss.off.toFixed(1)} %, enforce ${v.loss.enforce.toFixed(1)} %`)
    if (v.published !== undefined && v.received !== undefined) parts.push(`enforced: ${v.published.toLocaleString('en-US')} published, ${v.received.toLocaleString('en-US')} received`)
    if (v.decisions !== undefined) {
      const d = Object.entries(v.decisions).map(([a, c]) => `${a} ${c.allow.toLocaleString('en-US')} allowed / ${c.deny.toLocaleString('en-US')} denied`)
      parts.push(`decided during the enforced run: ${d.length > 0 ? d.join(', ') : 'nothing'}`)
    }
    if (parts.length > 0) lines.push(`- ${v.protocol.toUpperCase()} ${SIZE} B: ${parts.join('; ')}`)
  }
  if (s.audit !== undefined) {
    const a = s.audit
    const first = a.firstDenied === undefined ? '' : ` (first: ${String(a.firstDenied.action)} on ${String(a.firstDenied.resource)})`
    lines.push(`- enforced gateway's audit over the whole run: ${a.denials.toLocaleString('en-US')} denial(s) in ${a.deniedEvents} authorization.denied event(s)${first}, ${a.refusedConnects} connection(s) refused NOT_AUTHORIZED, ${a.kicked} session(s) kicked`)
  }
  if (s.decision !== undefined) {
    const d = s.decision
    lines.push(`- one decision (bench/policy-decision.ts, ${d.statements} statements, compiled): allowed publish ${d.nsPerAllowedPublish} ns, denied publish ${d.nsPerDeniedPublish} ns, subscribe filter ${d.nsPerSubscribe} ns; compiling the policies ${d.compileMicros} µs`)
  } else if (s.decisionError !== undefined) lines.push(`- the decision's own cost was not measured: ${s.decisionError}`)
  lines.push(`- goal ${s.met ? 'met' : 'not met'}${s.protocols.some((v) => v.invalid !== undefined) ? ' (some figures not valid, above)' : ''}`)
  return lines.join('\n')
}
