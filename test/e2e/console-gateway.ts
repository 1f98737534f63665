/**
 * A gateway in its own OS process for the console's end-to-end test: the built CLI
 * (`node bin/portcullis.js start`, as `npm start` runs it) on an embedded store in a temporary
 * directory, every listener on port 0 (read back from its stderr), the root AccessKey from the
 * environment. Unlike test/helpers/gateway-process.ts it needs no Redis: the console is what is
 * under test, and the embedded store and broker are the defaults an operator starts with.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'

export const ROOT_DIR = join(__dirname, '../..')

export interface ConsoleGateway {
  child: ChildProcess
  adminUrl: string
  ports: Record<string, number>
  stderr(): string
  stop(): Promise<void>
}

export function builtPieces(): string[] {
  return [join(ROOT_DIR, 'dist/src/cli/main.js'), join(ROOT_DIR, 'dist/console/index.html')].filter((file) => !existsSync(file))
}

export async function startConsoleGateway(dir: string, rootKey: { accessKeyId: string; accessKeySecret: string }): Promise<ConsoleGateway> {
  const configFile = join(dir, 'portcullis.yaml')
  writeFileSync(configFile, stringify({
    listeners: [
      { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
      { name: 'amqps', protocol: 'amqp', host: '127.0.0.1', port: 0 },
    ],
    admin: { host: '127.0.0.1', port: 0 },
    store: { kind: 'embedded', dataDir: join(dir, 'data') },
    tls: { devCertsDir: join(dir, 'dev-certs') },
    audit: { sinks: [{ kind: 'file', path: join(dir, 'audit.jsonl') }] },
    log: { level: 'warn' },
  }))
  const env: Record<string, string | undefined> = { ...process.env }
  // Hermetic: no PORTCULLIS_* of the test's own environment reaches the gateway.
  for (const name of Object.keys(env)) if (name.startsWith('PORTCULLIS_')) delete env[name]
  const child = spawn(process.execPath, [join(ROOT_DIR, 'bin/portcullis.js'), 'start', '-c', configFile], {
    cwd: dir,
    env: { ...env, PORTCULLIS_ROOT_ACCESS_KEY_ID: rootKey.accessKeyId, PORTCULLIS_ROOT_ACCESS_KEY_SECRET: rootKey.accessKeySecret },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  const ready = new Promise<{ adminUrl: string; ports: Record<string, number> }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the gateway did not start within 30 s:\n${stderr}`)), 30_000)
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
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the gateway exited with ${code}:\n${stderr}`)) })
  })
  const { adminUrl, ports } = await ready.catch((err: unknown) => {
    child.kill('SIGKILL')
    throw err
  })
  return {
    child,
    adminUrl,
    ports,
    stderr: () => stderr,
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        const force = setTimeout(() => child.kill('SIGKILL'), 8000)
        child.once('exit', () => { clearTimeout(force); resolve() })
        child.kill('SIGTERM')
      })
    },
  }
}
