import type { Endpoint } from '../endpoints'
import { rssBytes } from '../proc-stats'
import { sleep, type BenchContext } from './context'

/**
 * Idle memory (issue 5 §2): the proxy's RSS before and after `idleConnections` MQTT sessions
 * (mTLS + CONNECT, then silence) are opened, per connection. RSS is read after a short settle so
 * that the handshakes' transient garbage is not counted as held memory.
 */
export async function idleMemory(ctx: BenchContext, ep: Endpoint, count: number): Promise<void> {
  const pid = ep.pids[0]
  if (ep.mqtt?.tls === undefined || pid === undefined) return
  const label = `${count.toLocaleString('en-US')} idle MQTT connections (mTLS)`
  ctx.log(`${label} — ${ep.id}`)
  try {
    const before = rssBytes(pid)
    const r = await ctx.sender.call('openIdle', { target: ep.mqtt, count, concurrency: 32 })
    await sleep(1000)
    const after = rssBytes(pid)
    const perConn = r.opened > 0 ? (after - before) / r.opened / 1024 : undefined
    ctx.results.set({ id: 'idle-rss', label: `${label}: proxy RSS per connection`, unit: 'KiB', decimals: 1, reference: 'haproxyMtls' }, ep.id, perConn)
    ctx.results.set({ id: 'idle-rss-total', label: `${label}: proxy RSS with them open`, unit: 'MiB', decimals: 1, reference: 'haproxyMtls' }, ep.id, after / 1024 / 1024)
    ctx.results.detail(label, ep.id, { ...r, rssBefore: before, rssAfter: after })
    if (r.failures > 0) ctx.results.note(`${label}, ${ep.id}: ${r.failures} failed, first: ${r.firstError ?? '?'}`)
  } catch (err) {
    ctx.results.note(`${label}, ${ep.id}: ${err instanceof Error ? err.message : String(err)}`)
  } finally {
    await ctx.sender.call('closeIdle', undefined).catch(() => undefined)
    await sleep(500)
  }
}
