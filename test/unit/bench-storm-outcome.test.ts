import { createServer as netServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import t from 'tap'
import { classifyError, failureKey, isMidHandshakeTimeout, type Failure } from '../../bench/load/storm-outcome'

/** A TCP server on port 0 that treats each accepted socket with `onSocket`. */
async function listen(onSocket: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = netServer(onSocket)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, port: (server.address() as AddressInfo).port }
}

function errorOf(start: () => Socket): Promise<NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const s = start()
    s.once('error', (err) => resolve(err))
  })
}

t.test('a port nobody listens on is a refusal', async (t) => {
  const { server, port } = await listen(() => undefined)
  await new Promise<void>((r) => server.close(() => r()))
  const err = await errorOf(() => netConnect({ host: '127.0.0.1', port }))
  t.same(classifyError(err, 'tcp'), { kind: 'refused', phase: 'tcp' })
})

t.test('an endpoint that closes (FIN) before the TLS handshake finished is "closed", as a cheap early refusal looks', async (t) => {
  const { server, port } = await listen((s) => s.end())
  t.teardown(() => server.close())
  const err = await errorOf(() => tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }))
  t.same(classifyError(err, 'accept'), { kind: 'closed', phase: 'accept' }, err.message)
})

t.test('an endpoint that resets the connection during the handshake is "reset"', async (t) => {
  // Reset once the ClientHello is in: the RST then arrives while the client reads.
  const { server, port } = await listen((s) => s.once('data', () => s.resetAndDestroy()))
  t.teardown(() => server.close())
  const err = await errorOf(() => tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }))
  t.same(classifyError(err, 'accept'), { kind: 'reset', phase: 'accept' }, `${String(err.code)} ${String(err.syscall)}`)
})

t.test('a TLS error with a code is a tls-alert with that code', async (t) => {
  // Plain bytes where a ServerHello should be: the client's TLS layer fails with an ERR_SSL_ code.
  const { server, port } = await listen((s) => s.once('data', () => s.write(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'))))
  t.teardown(() => server.close())
  const err = await errorOf(() => tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }))
  const f = classifyError(err, 'tls')
  t.equal(f.kind, 'tls-alert', String(err.code))
  t.match(f.detail, /^ERR_SSL_/)
})

t.test('an unknown error keeps its code as the detail', async (t) => {
  const err = Object.assign(new Error('cannot assign requested address'), { code: 'EADDRNOTAVAIL', syscall: 'connect' })
  t.same(classifyError(err, 'tcp'), { kind: 'other', phase: 'tcp', detail: 'EADDRNOTAVAIL' })
})

t.test('failure keys name kind and phase, and only TLS- or CONNACK-phase timeouts are mid-handshake', async (t) => {
  const keys = (['tcp', 'accept', 'tls', 'mqtt'] as const).map((phase) => failureKey({ kind: 'timeout', phase } satisfies Failure))
  t.same(keys, ['timeout:tcp', 'timeout:accept', 'timeout:tls', 'timeout:mqtt'])
  t.same(keys.map(isMidHandshakeTimeout), [false, false, true, true], 'waiting for a ServerHello is not mid-handshake')
  t.equal(failureKey({ kind: 'connack', phase: 'mqtt', detail: '3' }), 'connack:mqtt:3')
  t.equal(isMidHandshakeTimeout('closed:tls'), false)
})
