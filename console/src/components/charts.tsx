import type { Point } from '../metrics/history'

/**
 * Two tiny SVG charts, enough for the metrics page: lines over time and horizontal bars. No chart
 * library: the data are a few series of at most MAX_SCRAPES points.
 */
export interface Series {
  name: string
  points: Point[]
  /** CSS class giving the stroke colour (style.css `.series-*`). */
  className: string
}

const W = 560
const H = 180
const PAD = { left: 44, right: 8, top: 10, bottom: 22 }

function niceMax(value: number): number {
  if (!(value > 0)) return 1
  const magnitude = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 5, 10]) if (value <= step * magnitude) return step * magnitude
  return 10 * magnitude
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v)
  if (Math.abs(v) >= 100) return v.toFixed(0)
  if (Math.abs(v) >= 1) return v.toFixed(1)
  return v.toFixed(2)
}

export function LineChart({ title, series, unit }: { title: string; series: Series[]; unit: string }) {
  const all = series.flatMap((s) => s.points)
  const t0 = Math.min(...all.map((p) => p.at))
  const t1 = Math.max(...all.map((p) => p.at))
  const yMax = niceMax(Math.max(0, ...all.map((p) => p.value)))
  const x = (at: number): number => PAD.left + (t1 > t0 ? ((at - t0) / (t1 - t0)) * (W - PAD.left - PAD.right) : 0)
  const y = (v: number): number => PAD.top + (1 - v / yMax) * (H - PAD.top - PAD.bottom)
  return (
    <figure class="chart" data-chart={title}>
      <figcaption>{title} <span class="muted">({unit})</span></figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={y(yMax * f)} y2={y(yMax * f)} />
            <text class="axis" x={PAD.left - 4} y={y(yMax * f) + 4} text-anchor="end">{formatNumber(yMax * f)}</text>
          </g>
        ))}
        {all.length === 0 && <text class="axis" x={W / 2} y={H / 2} text-anchor="middle">collecting… (one point per scrape)</text>}
        {series.map((s) => (
          <polyline key={s.name} class={`line ${s.className}`} fill="none" points={s.points.map((p) => `${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ')} />
        ))}
        {all.length > 0 && (
          <text class="axis" x={W - PAD.right} y={H - 6} text-anchor="end">{`last ${((t1 - t0) / 1000).toFixed(t1 - t0 < 10_000 ? 1 : 0)} s`}</text>
        )}
      </svg>
      <ul class="legend">
        {series.map((s) => {
          const last = s.points[s.points.length - 1]
          return <li key={s.name}><span class={`swatch ${s.className}`} /> {s.name} (latest): <strong>{last === undefined ? '—' : formatNumber(last.value)}</strong></li>
        })}
      </ul>
    </figure>
  )
}

export function BarChart({ title, entries, empty }: { title: string; entries: Array<[string, number]>; empty: string }) {
  const max = niceMax(Math.max(0, ...entries.map(([, v]) => v)))
  const rowH = 22
  const labelW = 220
  const height = Math.max(1, entries.length) * rowH + 8
  return (
    <figure class="chart" data-chart={title}>
      <figcaption>{title}</figcaption>
      {entries.length === 0 ? <p class="muted">{empty}</p> : (
        <svg viewBox={`0 0 ${W} ${height}`} role="img" aria-label={title}>
          {entries.map(([label, value], i) => (
            <g key={label} data-reason={label}>
              <text class="axis" x={labelW - 6} y={i * rowH + 16} text-anchor="end">{label}</text>
              <rect class="bar" x={labelW} y={i * rowH + 4} height={rowH - 8} width={Math.max(1, (value / max) * (W - labelW - 50))} />
              <text class="axis" x={labelW + Math.max(1, (value / max) * (W - labelW - 50)) + 4} y={i * rowH + 16}>{formatNumber(value)}</text>
            </g>
          ))}
        </svg>
      )}
    </figure>
  )
}
