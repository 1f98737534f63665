import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { stringify } from 'yaml'
import { writeDevPki } from '../../src/ca/pki'

/**
 * A port already taken at start: the CLI exits 1 with ADDRESS_IN_USE naming the listener (or the
 * admin API), the address and its config key, instead of `INTERNAL: listen EADDRINUSE`.
 */
const CLI = join(__dirname, '../../bin/portcullis.js')

async function holdPort(t: tap.Test): Promise<number> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as AddressInfo).port
}

async function startWith(t: tap.Test, ports: { mqtt: number; amqp: number; admin: number }): Promise<{ code: number | null; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-start-errors-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  await writeDevPki(join(dir, 'certs'))
  const file = join(dir, 'portcullis.yaml')
  writeFileSync(file, stringify({
    listeners: [
      { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: ports.mqtt },
      { name: 'amqps', protocol: 'amqp', host: '127.0.0.1', port: ports.amqp },
    ],
    admin: { host: '127.0.0.1', port: ports.admin },
    store: { kind: 'embedded', dataDir: join(dir, 'data') },
    tls: { devCertsDir: join(dir, 'certs') },
    audit: { sinks: [{ kind: 'file', path: join(dir, 'audit.jsonl') }] },
    log: { level: 'warn' },
  }))
  const child = spawn(process.execPath, [CLI, 'start', '-c', file], {
    cwd: dir,
    env: { ...process.env, PORTCULLIS_MASTER_KEY: randomBytes(32).toString('base64'), PORTCULLIS_MASTER_KEY_ID: 'start-errors' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  clearTimeout(timer)
  return { code, stderr }
}

t.test('a data listener port already in use: exit 1, ADDRESS_IN_USE naming the listener and listeners[1].port', async (t) => {
  const taken = await holdPort(t)
  const { code, stderr } = await startWith(t, { mqtt: 0, amqp: taken, admin: 0 })
  t.equal(code, 1, 'the process exits (the listener started before it does not keep it alive)')
  t.match(stderr, new RegExp(`ADDRESS_IN_USE: listener "amqps" cannot listen on 127\\.0\\.0\\.1:${taken}: the address is already in use by another process; free it or change listeners\\[1\\]\\.port`))
  t.notMatch(stderr, /INTERNAL/)
})

t.test('the admin port already in use: exit 1, ADDRESS_IN_USE naming the admin API and admin.port', async (t) => {
  const taken = await holdPort(t)
  const { code, stderr } = await startWith(t, { mqtt: 0, amqp: 0, admin: taken })
  t.equal(code, 1)
  t.match(stderr, new RegExp(`ADDRESS_IN_USE: admin API cannot listen on 127\\.0\\.0\\.1:${taken}: .*change admin\\.port`))
})
