import { useEffect, useRef, useState } from 'preact/hooks'
import { tailAudit, type TailState } from '../api/sse'
import { verifyEvents, type ChainReport } from '../audit/chain'
import { ErrorBox } from '../components/error-box'
import { Field } from '../components/fields'
import { Empty, Time } from '../components/format'
import { useAction, useApi, useLoad } from '../hooks'
import type { AuditEvent } from '../types'

const MAX_TAIL = 500
/** DESIGN §3: at most 1000 events in one answer of `GET /v1/audit`. */
const MAX_LIMIT = 1000

/**
 * The audit log: a query (`GET /v1/audit`), a live tail (`GET /v1/audit/stream`, server-sent
 * events read from a signed fetch) and a check of the hash chain over the events the API holds.
 */
export function AuditPage() {
  const [filter, setFilter] = useState({ type: '', instanceId: '', since: '', limit: '100' })
  const [applied, setApplied] = useState(filter)
  const events = useLoad((a) => a.get<{ items: AuditEvent[]; scanLimitReached?: boolean }>('/v1/audit', {
    type: applied.type, instanceId: applied.instanceId, limit: applied.limit,
    since: applied.since === '' ? undefined : new Date(applied.since).toISOString(),
  }), [applied])
  const set = (key: keyof typeof filter) => (e: Event) => setFilter((f) => ({ ...f, [key]: (e.currentTarget as HTMLInputElement).value }))
  return (
    <section>
      <div class="page-head"><h1>Audit log</h1></div>
      <ChainCheck />
      <LiveTail type={applied.type} instanceId={applied.instanceId} />
      <h2>Query</h2>
      <form class="inline-form" name="audit-query" onSubmit={(e) => { e.preventDefault(); setApplied(filter) }}>
        <Field label="Type" hint="e.g. admin.* or connection.rejected"><input name="type" value={filter.type} onInput={set('type')} /></Field>
        <Field label="Instance"><input name="instanceId" value={filter.instanceId} onInput={set('instanceId')} /></Field>
        <Field label="Since"><input name="since" type="datetime-local" value={filter.since} onInput={set('since')} /></Field>
        <Field label="Limit"><input name="limit" value={filter.limit} inputMode="numeric" onInput={set('limit')} /></Field>
        <button type="submit" class="primary">Search</button>
      </form>
      <ErrorBox error={events.error} />
      {events.data?.scanLimitReached === true && <p class="warn">The source stopped at its scan cap: older matches may exist; narrow the time range.</p>}
      {events.data?.items.length === 0 && <Empty what="matching events" />}
      {events.data !== undefined && events.data.items.length > 0 && <EventTable events={[...events.data.items].reverse()} />}
    </section>
  )
}

function LiveTail({ type, instanceId }: { type: string; instanceId: string }) {
  const api = useApi()
  const [state, setState] = useState<{ state: TailState; detail?: string }>({ state: 'stopped' })
  const [tail, setTail] = useState<AuditEvent[]>([])
  const stream = useRef<{ stop(): void } | undefined>(undefined)
  const stop = (): void => { stream.current?.stop(); stream.current = undefined }
  useEffect(() => stop, [])
  const start = (): void => {
    stop()
    setTail([])
    stream.current = tailAudit(api, {
      query: { type, instanceId },
      onEvent: (event) => setTail((t) => [event as AuditEvent, ...t].slice(0, MAX_TAIL)),
      onState: (s, detail) => setState(detail === undefined ? { state: s } : { state: s, detail }),
    })
  }
  const running = state.state === 'connecting' || state.state === 'live' || state.state === 'reconnecting'
  return (
    <div class="card" data-testid="live-tail">
      <div class="page-head">
        <h2>Live tail</h2>
        {running ? <button type="button" onClick={stop}>Stop</button> : <button type="button" class="primary" onClick={start}>Start live tail</button>}
        <span class={`tail-state tail-${state.state}`} data-state={state.state}>{state.state}</span>
        {state.detail !== undefined && <span class="muted">{state.detail}</span>}
      </div>
      <p class="muted">Follows new events{type !== '' || instanceId !== '' ? ' matching the query\'s type and instance' : ''} as they are recorded, on every replica that writes the stream.</p>
      {tail.length === 0 ? <p class="muted">{running ? 'Waiting for events…' : 'Not running.'}</p> : <EventTable events={tail} compact />}
    </div>
  )
}

function ChainCheck() {
  const api = useApi()
  const [report, setReport] = useState<ChainReport | undefined>()
  const check = useAction()
  return (
    <div class="card" data-testid="chain-check">
      <div class="page-head">
        <h2>Hash chain</h2>
        <button type="button" class="primary" disabled={check.busy} onClick={() => void check.run(async () => {
          const { items } = await api.get<{ items: AuditEvent[] }>('/v1/audit', { limit: MAX_LIMIT })
          setReport(await verifyEvents(items))
        })}>Verify chain</button>
      </div>
      <p class="muted">
        Recomputes every event's SHA-256 (prev + canonical JSON) over the latest {MAX_LIMIT} events the API holds and checks each links to the one before in its chain. The complete log is verified with <code>portcullis audit verify FILE</code>.
      </p>
      <ErrorBox error={check.error} />
      {report !== undefined && (report.ok
        ? <p class="ok" data-testid="chain-result" data-ok="true">Chain intact: {report.count} events in {report.chains} chain{report.chains === 1 ? '' : 's'}{report.gaps > 0 ? `; ${report.gaps} recorded gap(s), ${report.lost} event(s) lost by a sink` : ''}.</p>
        : <p class="error" data-testid="chain-result" data-ok="false">Chain broken at event {report.index + 1} ({report.eventId ?? 'no id'}{report.chain !== undefined ? `, chain ${report.chain}` : ''}): {report.problem}. {report.count} events before it verified.</p>)}
    </div>
  )
}

/** Fingerprints and connection ids shortened: the whole event is one click away. */
const brief = (value: unknown): string => {
  const text = String(value)
  return /^[0-9a-f]{64}$/.test(text) ? `${text.slice(0, 10)}…` : /^[0-9a-f-]{36}$/.test(text) ? `${text.slice(0, 8)}…` : text
}

function summary(e: AuditEvent): string {
  const d = e.details
  const target = d['target'] as Record<string, unknown> | undefined
  const parts: string[] = []
  if (target !== undefined) parts.push(...Object.entries(target).map(([k, v]) => `${k}=${brief(v)}`))
  for (const key of ['deviceId', 'clientId', 'accessKeyId', 'connId']) if (typeof d[key] === 'string' && target?.[key] === undefined) parts.push(`${key}=${brief(d[key])}`)
  return parts.join(' ')
}

function EventTable({ events, compact }: { events: AuditEvent[]; compact?: boolean }) {
  return (
    <table class={compact === true ? 'compact' : ''}>
      <thead><tr><th>Time</th><th>Type</th><th>Outcome</th><th>Reason</th><th>Instance</th><th>Actor</th><th>What</th></tr></thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.id} data-event-type={e.type} data-reason={e.reason ?? ''}>
            <td><Time iso={e.time} /></td>
            <td><code>{e.type}</code></td>
            <td class={`outcome-${e.outcome}`}>{e.outcome}</td>
            <td>{e.reason ?? ''}</td>
            <td>{e.instanceId ?? ''}</td>
            <td>{e.actor.kind}{e.actor.id !== undefined ? ` ${e.actor.id}` : ''}</td>
            <td>
              <details>
                <summary>{summary(e) || 'details'}</summary>
                <pre>{JSON.stringify({ source: e.source, details: e.details, hash: e.hash }, null, 2)}</pre>
              </details>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
