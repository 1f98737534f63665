import t from 'tap'
import { parseOptions, type BenchOptions } from '../../bench/options'

function parse(argv: string[]): BenchOptions {
  const o = parseOptions(argv)
  if ('error' in o) throw new Error(o.error)
  return o
}

t.test('the full run measures the storm too, with 5,000 devices, one certificate each, primed', async (t) => {
  const o = parse([])
  t.ok(o.only.includes('storm') && o.only.includes('idle') && o.only.includes('connect'))
  t.equal(o.stormDevices, 5000)
  t.equal(o.stormCerts, undefined)
  t.equal(o.stormPrime, true)
  t.same(o.stormBackoff, { baseMs: 1000, capMs: 30_000 })
  t.equal(o.stormAttemptTimeoutMs, 30_000)
  t.equal(o.endpointsNamed, false)
})

t.test('--quick storms 500 devices', async (t) => {
  t.equal(parse(['--quick']).stormDevices, 500)
  t.equal(parse(['--storm', '--quick']).stormDevices, 500, '--storm without a count keeps the mode\'s default')
})

t.test('--storm alone runs only the storm; its count is optional', async (t) => {
  t.same(parse(['--storm']).only, ['storm'])
  const o = parse(['--storm', '1200'])
  t.same(o.only, ['storm'])
  t.equal(o.stormDevices, 1200)
})

t.test('--storm with --only adds the storm to what --only names, in either order', async (t) => {
  t.same(parse(['--only', 'connect', '--storm', '300']).only, ['connect', 'storm'])
  t.same(parse(['--storm', '300', '--only', 'idle']).only, ['idle', 'storm'])
  t.same(parse(['--only', 'storm']).only, ['storm'])
})

t.test('--storm-certs, --storm-cold and --endpoints are taken; bad values are refused', async (t) => {
  const o = parse(['--storm', '--storm-certs', '100', '--storm-cold', '--endpoints', 'portcullis,portcullisWorkers'])
  t.equal(o.stormCerts, 100)
  t.equal(o.stormPrime, false)
  t.same(o.endpoints, ['portcullis', 'portcullisWorkers'])
  t.equal(o.endpointsNamed, true)
  t.match(parseOptions(['--storm-certs', '0']), { error: /positive integer/ })
  t.match(parseOptions(['--storm', '0']), { error: /positive integer/ })
  t.match(parseOptions(['--endpoints', 'portcullisTwice']), { error: /--endpoints takes/ })
})

t.test('--cases picks connection-rate cases by id; every case by default; an unknown id is refused', async (t) => {
  t.same(parse([]).connectCases, ['mqtt-full', 'mqtt-resumed', 'tls-only', 'amqp'])
  t.same(parse(['--only', 'connect', '--cases', 'amqp']).connectCases, ['amqp'])
  t.same(parse(['--cases', 'mqtt-resumed,amqp']).connectCases, ['mqtt-resumed', 'amqp'])
  t.match(parseOptions(['--cases', 'amqp,mqtt-slow']), { error: /--cases takes mqtt-full,mqtt-resumed,tls-only,amqp/ })
})
