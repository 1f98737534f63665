import { ENDPOINT_IDS, ENDPOINT_LABELS, type EndpointId } from './endpoints'

/**
 * One table row per measured figure (issue 5 §2: "each reported per endpoint and as a ratio to
 * HAProxy"). `reference` names the HAProxy column the Portcullis figure is compared with: the
 * mTLS one for MQTT (Portcullis checks client certificates there), the TLS one for AMQP and the
 * plain handshake.
 */
export interface RowSpec {
  id: string
  label: string
  unit: string
  decimals: number
  reference: 'haproxyMtls' | 'haproxyTls'
  /** Also show Portcullis ÷ direct (throughput and latency rows). */
  vsDirect?: boolean
}

export interface Row extends RowSpec {
  values: Partial<Record<EndpointId, number>>
}

export class Results {
  readonly rows: Row[] = []
  readonly details: Array<{ measurement: string; endpoint: EndpointId; [key: string]: unknown }> = []
  readonly notes: string[] = []

  set(spec: RowSpec, endpoint: EndpointId, value: number | undefined): void {
    if (value === undefined || !Number.isFinite(value)) return
    let row = this.rows.find((r) => r.id === spec.id)
    if (row === undefined) {
      row = { ...spec, values: {} }
      this.rows.push(row)
    }
    row.values[endpoint] = value
  }

  detail(measurement: string, endpoint: EndpointId, data: Record<string, unknown>): void {
    this.details.push({ measurement, endpoint, ...data })
  }

  note(text: string): void {
    this.notes.push(text)
  }

  markdown(): string {
    // The 2-worker gateway is measured in the storm (its own table) unless named: no empty column.
    const ids = ENDPOINT_IDS.filter((id) => !OPTIONAL_COLUMNS.has(id) || this.rows.some((r) => r.values[id] !== undefined))
    const header = ['measurement', ...ids.map((id) => ENDPOINT_LABELS[id]), ...RATIO_COLUMNS.map((c) => c.header)]
    const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`]
    for (const row of this.rows) {
      const cells = [...ids.map((id) => fmt(row.values[id], row.decimals)), ...RATIO_COLUMNS.map((c) => c.cell(row))]
      lines.push(`| ${row.label} (${row.unit}) | ${cells.join(' | ')} |`)
    }
    return lines.join('\n')
  }
}

const OPTIONAL_COLUMNS: ReadonlySet<EndpointId> = new Set(['portcullisWorkers'])

/** One endpoint's figure divided by another's, where both were measured. */
export function ratio(row: Pick<Row, 'values'>, over: EndpointId, under: EndpointId): number | undefined {
  const p = row.values[over]
  const o = row.values[under]
  return p !== undefined && o !== undefined && o !== 0 ? p / o : undefined
}

/** The Portcullis figure divided by another endpoint's, where both were measured. */
function portcullisOver(row: Row, other: EndpointId): string | undefined {
  return ratio(row, 'portcullis', other)?.toFixed(2)
}

/**
 * Ratio columns after the endpoints: to the HAProxy endpoint doing the same job (the row's
 * reference), to the naive Node pipe (what Node itself costs), to the direct broker where
 * that means something (throughput and latency), and the same gateway with authorization
 * enforced over it off (issue 11: what enforcement costs, measured in the same run).
 */
const RATIO_COLUMNS: ReadonlyArray<{ header: string; cell(row: Row): string }> = [
  {
    header: 'Portcullis ÷ HAProxy',
    cell: (row) => {
      const r = portcullisOver(row, row.reference)
      return r === undefined ? '—' : `${r} (vs ${row.reference === 'haproxyMtls' ? 'mTLS' : 'TLS'})`
    },
  },
  { header: 'Portcullis ÷ Node pipe', cell: (row) => portcullisOver(row, 'nodePipe') ?? '—' },
  { header: 'Portcullis ÷ direct', cell: (row) => (row.vsDirect === true ? portcullisOver(row, 'direct') : undefined) ?? '—' },
  { header: 'enforce ÷ off', cell: (row) => ratio(row, 'portcullisEnforce', 'portcullis')?.toFixed(2) ?? '—' },
]

export function fmt(value: number | undefined, decimals: number): string {
  if (value === undefined) return '—'
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
}
