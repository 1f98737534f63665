import { useEffect, useRef, useState } from 'preact/hooks'
import { BarChart, LineChart } from '../components/charts'
import { ErrorBox } from '../components/error-box'
import { MetricsHistory } from '../metrics/history'
import { byLabel, parsePrometheus } from '../metrics/prometheus'
import { useInterval } from '../hooks'

const SCRAPE_MS = 5000

/**
 * Charts from `GET /metrics` (unsigned, Prometheus text), scraped every few seconds while this
 * page is open; the history lives in the page and is gone when it closes (Prometheus keeps the
 * real one). Rates are per second between two scrapes.
 */
export function MetricsPage() {
  const history = useRef(new MetricsHistory())
  const [, setVersion] = useState(0)
  const [error, setError] = useState<unknown>(undefined)
  const scrape = async (): Promise<void> => {
    try {
      const res = await fetch(new URL('/metrics', location.origin), { cache: 'no-store', credentials: 'omit' })
      if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`)
      history.current.add({ at: Date.now(), samples: parsePrometheus(await res.text()) })
      setError(undefined)
    } catch (err) {
      setError(err)
    }
    setVersion((v) => v + 1)
  }
  useEffect(() => { void scrape() }, [])
  useInterval(() => void scrape(), SCRAPE_MS)

  const h = history.current
  const latest = h.latest?.samples ?? []
  const sorted = (m: Map<string, number>): Array<[string, number]> => [...m].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1])
  return (
    <section>
      <div class="page-head">
        <h1>Metrics</h1>
        <button type="button" onClick={() => void scrape()}>Scrape now</button>
        <span class="muted" data-testid="scrapes">{h.size} scrape{h.size === 1 ? '' : 's'}, every {SCRAPE_MS / 1000} s</span>
      </div>
      <ErrorBox error={error} />
      <div class="charts">
        <LineChart title="Connection rate" unit="per second" series={[
          { name: 'accepted', points: h.rate('portcullis_connections_accepted_total'), className: 'series-accepted' },
          { name: 'refused', points: h.rate('portcullis_connections_rejected_total'), className: 'series-rejected' },
        ]} />
        <LineChart title="Live sessions" unit="sessions" series={[
          { name: 'mqtt', points: h.gauge('portcullis_connections_active', { protocol: 'mqtt' }), className: 'series-mqtt' },
          { name: 'amqp', points: h.gauge('portcullis_connections_active', { protocol: 'amqp' }), className: 'series-amqp' },
        ]} />
        <BarChart title="Refusals by reason (since the gateway started)" entries={sorted(byLabel(latest, 'portcullis_connections_rejected_total', 'reason'))} empty="No refusals counted." />
        <BarChart title="Refusals by reason (while this page was open)" entries={sorted(h.increaseBy('portcullis_connections_rejected_total', 'reason'))} empty="None in this window." />
        <BarChart title="Sessions kicked by reason (since start)" entries={sorted(byLabel(latest, 'portcullis_sessions_kicked_total', 'reason'))} empty="No sessions kicked." />
      </div>
    </section>
  )
}
