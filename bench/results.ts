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
    const header = ['measurement', ...ENDPOINT_IDS.map((id) => ENDPOINT_LABELS[id]), 'Portcullis ÷ HAProxy', 'Portcullis ÷ direct']
    const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`]
    for (const row of this.rows) {
      const cells = ENDPOINT_IDS.map((id) => fmt(row.values[id], row.decimals))
      const p = row.values.portcullis
      const h = row.values[row.reference]
      const d = row.values.direct
      const vsH = p !== undefined && h !== undefined && h !== 0 ? `${(p / h).toFixed(2)} (vs ${row.reference === 'haproxyMtls' ? 'mTLS' : 'TLS'})` : '—'
      const vsD = row.vsDirect === true && p !== undefined && d !== undefined && d !== 0 ? (p / d).toFixed(2) : '—'
      lines.push(`| ${row.label} (${row.unit}) | ${cells.join(' | ')} | ${vsH} | ${vsD} |`)
    }
    return lines.join('\n')
  }
}

function fmt(value: number | undefined, decimals: number): string {
  if (value === undefined) return '—'
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
}
