/**
 * A gateway in its own OS process — the built CLI (`node bin/portcullis.js start`, which `npm test`
 * builds first) — for tests where several replicas share one Redis. Ports are 0; the process
 * prints what it bound, which is read back from its stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { signRequest } from '../../src/admin/signing'

const ROOT = join(__dirname, '../..')

export interface GatewayProcess {
  child: ChildProcess
  adminUrl: string
  ports: Record<string, number>
  admin<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>
  stop(): Promise<void>
}

export interface GatewayProcessOptions {
  name: string
  dir: string
  certsDir: string
  redisPrefix: string
  /** Where this process reaches Redis (default the local one), e.g. a relay a test can cut. */
  redisUrl?: string
  env: Record<string, string>
  /** Config keys merged over the defaults here (e.g. `workers`). */
  config?: Record<string, unknown>
}

export async function startGatewayProcess(o: GatewayProcessOptions): Promise<GatewayProcess> {
  const cli = join(ROOT, 'dist/src/cli/main.js')
  if (!existsSync(cli)) throw new Error('dist/ is missing: run `npm run build` (npm test does) before this test')
  const configFile = join(o.dir, `${o.name}.yaml`)
  writeFileSync(configFile, stringify({
    listeners: [
      { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
      { name: 'amqps', protocol: 'amqp', host: '127.0.0.1', port: 0 },
    ],
    admin: { host: '127.0.0.1', port: 0 },
    store: { kind: 'redis', url: o.redisUrl ?? 'redis://127.0.0.1:6379', keyPrefix: o.redisPrefix, dataDir: join(o.dir, `${o.name}-data`) },
    tls: { devCertsDir: o.certsDir },
    audit: { sinks: [{ kind: 'file', path: join(o.dir, `${o.name}-audit.jsonl`) }] },
    log: { level: 'warn' },
    ...o.config,
  }))
  const child = spawn(process.execPath, [join(ROOT, 'bin/portcullis.js'), 'start', '-c', configFile], {
    cwd: o.dir, env: { ...process.env, ...o.env }, stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  const ready = new Promise<{ adminUrl: string; ports: Record<string, number> }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${o.name} did not start:\n${stderr}`)), 20_000)
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      const admin = /admin API on (http:\/\/\S+?);/.exec(stderr)
      const ports: Record<string, number> = {}
      for (const m of stderr.matchAll(/listener (\S+) on [\d.]+:(\d+)/g)) ports[m[1] as string] = Number(m[2])
      if (admin?.[1] !== undefined && ports.mqtts !== undefined && ports.amqps !== undefined) {
        clearTimeout(timer)
        resolve({ adminUrl: admin[1], ports })
      }
    })
    child.once('exit', (code) => reject(new Error(`${o.name} exited with ${code}:\n${stderr}`)))
  })
  const { adminUrl, ports } = await ready.catch((err: unknown) => {
    child.kill('SIGKILL')
    throw err
  })
  const keyId = o.env.PORTCULLIS_ROOT_ACCESS_KEY_ID as string
  const secret = o.env.PORTCULLIS_ROOT_ACCESS_KEY_SECRET as string
  return {
    child,
    adminUrl,
    ports,
    async admin(method, path, body) {
      const payload = body === undefined ? '' : JSON.stringify(body)
      const headers = signRequest({ method, url: path, body: payload, accessKeyId: keyId, accessKeySecret: secret })
      const res = await fetch(adminUrl + path, {
        method, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: payload }),
      })
      const text = await res.text()
      return { status: res.status, body: text !== '' && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text }
    },
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
        setTimeout(() => child.kill('SIGKILL'), 5000).unref()
      })
    },
  }
}
