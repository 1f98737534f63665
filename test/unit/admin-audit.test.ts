import type { AddressInfo } from 'node:net'
import type { ServerResponse } from 'node:http'
import { Writable } from 'node:stream'
import t from 'tap'
import { SseStream } from '../../src/admin/sse'
import type { AuditEvent } from '../../src/audit/event'
import { AdminClient } from '../../src/cli/admin-client'
import { readSse, type SseMessage } from '../../src/cli/sse-reader'
import { adminHarness, ROOT, type AdminHarness } from '../helpers/admin-harness'

async function listening(t: tap.Test, opts: { heartbeatMs?: number } = {}): Promise<{ h: AdminHarness; client: AdminClient }> {
  const h = await adminHarness(t)
  if (opts.heartbeatMs !== undefined) h.ctx.auditStream = { heartbeatMs: opts.heartbeatMs }
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
  return { h, client: new AdminClient({ url, ...ROOT }) }
}

/** Reads SSE messages until `n` arrived; aborts the request after. */
async function take(stream: AsyncIterable<Uint8Array>, n: number): Promise<SseMessage[]> {
  const out: SseMessage[] = []
  for await (const message of readSse(stream)) {
    out.push(message)
    if (out.length === n) break
  }
  return out
}

t.test('GET /v1/audit answers recorded events by type, instance and limit, oldest first', async (t) => {
  const h = await adminHarness(t)
  for (const id of ['q-1', 'q-2']) {
    t.equal((await h.call('POST', '/v1/instances', { id, protocol: 'mqtt', hostnames: [`${id}.example.com`] })).statusCode, 201)
  }
  const all = await h.call('GET', '/v1/audit?type=admin.instance.*')
  t.equal(all.statusCode, 200)
  t.same(all.json().items.map((e: AuditEvent) => e.instanceId), ['q-1', 'q-2'])
  t.same((await h.call('GET', '/v1/audit?instanceId=q-2')).json().items.map((e: AuditEvent) => e.type), ['admin.instance.create'])
  t.same((await h.call('GET', '/v1/audit?type=admin.instance.create&limit=1')).json().items.map((e: AuditEvent) => e.instanceId), ['q-2'])
  const future = encodeURIComponent(new Date(Date.now() + 60_000).toISOString())
  t.same((await h.call('GET', `/v1/audit?since=${future}`)).json().items, [])
})

t.test('GET /v1/audit refuses bad filters with 400 and unsigned calls with 401', async (t) => {
  const h = await adminHarness(t)
  for (const query of ['since=yesterday', 'limit=0', 'limit=1001', 'colour=red']) {
    const res = await h.call('GET', `/v1/audit?${query}`)
    t.equal(res.statusCode, 400, query)
    t.equal(res.json().code, 'VALIDATION_FAILED', query)
  }
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/audit' })).statusCode, 401)
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/audit/stream' })).statusCode, 401)
  t.equal((await h.call('GET', '/v1/audit/stream?until=2026-01-01T00:00:00Z')).statusCode, 400, 'a live stream has no until')
})

t.test('GET /v1/audit/stream sends live events as SSE over a real connection, filtered', async (t) => {
  const { h, client } = await listening(t)
  const abort = new AbortController()
  t.teardown(() => abort.abort())
  const body = await client.stream('/v1/audit/stream', { query: { type: 'admin.*' }, signal: abort.signal })
  const received = take(body, 1)
  h.audit.record({ type: 'connection.accepted', outcome: 'success', actor: { kind: 'client' } })
  const recorded = h.audit.record({ type: 'admin.ca.register', instanceId: 'live-1', outcome: 'success', actor: { kind: 'accessKey', id: 'AK' } })
  const [message] = await received
  t.equal(message?.id, recorded.id)
  t.same(JSON.parse(message?.data ?? ''), recorded)
})

t.test('the stream replays history from since, answers SSE headers and sends heartbeats', async (t) => {
  const { h } = await listening(t, { heartbeatMs: 50 })
  const before = h.audit.record({ type: 'admin.x.old', outcome: 'success', actor: { kind: 'system' } })
  const url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
  const { signRequest } = await import('../../src/admin/signing')
  const path = `/v1/audit/stream?since=${encodeURIComponent(new Date(0).toISOString())}`
  const abort = new AbortController()
  t.teardown(() => abort.abort())
  const res = await fetch(`${url}${path}`, { headers: signRequest({ method: 'GET', url: path, ...ROOT }), signal: abort.signal })
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/event-stream/)
  t.ok(res.headers.get('x-request-id'))
  const reader = res.body!.getReader()
  let text = ''
  while (!text.includes(': heartbeat')) text += new TextDecoder().decode((await reader.read()).value)
  t.match(text, new RegExp(`^: connected\\n\\nid: ${before.id}\\ndata: \\{`), 'the history comes first, as id + data')
  abort.abort()
})

t.test('a client that goes away is unsubscribed, and closing the server ends open streams', async (t) => {
  const { h, client } = await listening(t)
  let subscribed = 0
  const subscribe = h.audit.subscribe.bind(h.audit)
  h.audit.subscribe = (listener) => {
    subscribed++
    const stop = subscribe(listener)
    return () => {
      subscribed--
      stop()
    }
  }
  const gone = new AbortController()
  await client.stream('/v1/audit/stream', { signal: gone.signal })
  t.equal(subscribed, 1)
  gone.abort()
  const deadline = Date.now() + 2000
  while (subscribed > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  t.equal(subscribed, 0, 'unsubscribed once the client left')

  const staying = await client.stream('/v1/audit/stream')
  const ended = (async () => {
    for await (const _ of readSse(staying)) {
      // No events are recorded: the loop ends when the server ends the stream.
    }
  })()
  await h.app.close()
  await ended
  t.equal(subscribed, 0, 'the stream ended with the server')
})

t.test('a reader that does not keep up is disconnected instead of buffered without limit', async (t) => {
  // A response whose socket never drains: every write stays buffered.
  const stuck = new Writable({ highWaterMark: 16, write: () => undefined }) as unknown as ServerResponse
  let destroyed = false
  Object.assign(stuck, { writeHead: () => stuck, destroy: () => { destroyed = true } })
  const sse = new SseStream(stuck, { heartbeatMs: 60_000, maxBufferedBytes: 4096 })
  let closed = false
  sse.onClose(() => (closed = true))
  sse.open({})
  for (let i = 0; i < 100 && !sse.isClosed; i++) sse.send(String(i), JSON.stringify({ pad: 'x'.repeat(100) }))
  t.ok(destroyed, 'the connection was destroyed')
  t.ok(closed, 'close listeners (unsubscribe) ran')
  t.ok(stuck.writableLength <= 4096, `no more than the bound was buffered (${stuck.writableLength})`)
})
