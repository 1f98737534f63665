/**
 * Starts a real gateway in this process for integration tests: listeners and admin API on port 0,
 * a temporary data directory and dev PKI, the audit log in memory (and a file), logs silent.
 * `admin()` sends requests signed with the root AccessKey exactly as the CLI does.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { configSchema, type Config } from '../../src/config/schema'
import { startGateway, type Gateway } from '../../src/gateway'
import { signRequest } from '../../src/admin/signing'
import type { AuditEvent } from '../../src/audit/event'
import type { Test } from './services'

export interface TestGatewayOptions {
  /** Extra config merged over the test defaults (listeners/admin/store/tls are set here). */
  config?: Record<string, unknown>
  /** Reuse a data directory (restart tests). */
  dataDir?: string
  certsDir?: string
  /** Redis store with this key prefix instead of the embedded store. */
  redisPrefix?: string
  handshakeTimeoutMs?: number
  /** Master key (Base64 of 32 bytes) instead of one generated in the data directory. */
  masterKey?: string
  /** Receives the gateway's log lines at debug level (default: no logs). */
  logLines?: (line: string) => void
}

export interface TestGateway {
  gateway: Gateway
  config: Config
  dataDir: string
  certsDir: string
  mqttPort: number
  amqpPort: number
  admin<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>
  /** Audit events recorded so far, optionally of one type. */
  events(type?: string): AuditEvent[]
  /** Resolves with the first audit event (already recorded or future) matching the predicate. */
  waitForEvent(predicate: (e: AuditEvent) => boolean, timeoutMs?: number): Promise<AuditEvent>
  stop(): Promise<void>
}

export async function startTestGateway(t: Test, options: TestGatewayOptions = {}): Promise<TestGateway> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'portcullis-data-'))
  const certsDir = options.certsDir ?? mkdtempSync(join(tmpdir(), 'portcullis-certs-'))
  const config = configSchema.parse({
    listeners: [
      { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
      { name: 'amqps', protocol: 'amqp', host: '127.0.0.1', port: 0 },
    ],
    admin: { host: '127.0.0.1', port: 0 },
    store: options.redisPrefix !== undefined
      ? { kind: 'redis', url: 'redis://127.0.0.1:6379', keyPrefix: options.redisPrefix, dataDir }
      : { kind: 'embedded', dataDir },
    audit: { sinks: [{ kind: 'file', path: join(dataDir, 'audit.jsonl') }] },
    tls: { devCertsDir: certsDir },
    limits: { handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000 },
    log: { level: 'silent' },
    ...options.config,
  })
  const gateway = await startGateway(config, {
    secrets: { requireServices: false, ...(options.masterKey !== undefined ? { masterKey: options.masterKey } : {}) },
    logger: options.logLines === undefined
      ? pino({ level: 'silent' })
      : pino({ level: 'debug' }, { write: (line: string) => options.logLines?.(line) }),
  })
  const recorded: AuditEvent[] = [...gateway.audit.recent({ limit: 10_000 })]
  const waiters = new Set<(e: AuditEvent) => void>()
  const unsubscribe = gateway.audit.subscribe((e) => {
    recorded.push(e)
    for (const w of waiters) w(e)
  })
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    unsubscribe()
    await gateway.stop()
  }
  t.teardown(async () => {
    await stop()
    if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true })
    if (options.certsDir === undefined) rmSync(certsDir, { recursive: true, force: true })
  })
  const adminUrl = gateway.adminUrl
  const key = gateway.rootAccessKey
  return {
    gateway,
    config,
    dataDir,
    certsDir,
    mqttPort: gateway.listenerAddress('mqtts').port,
    amqpPort: gateway.listenerAddress('amqps').port,
    async admin(method, path, body) {
      const payload = body === undefined ? '' : JSON.stringify(body)
      const headers = signRequest({ method, url: path, body: payload, accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret })
      const res = await fetch(adminUrl + path, {
        method,
        headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: payload }),
      })
      const text = await res.text()
      const type = res.headers.get('content-type') ?? ''
      return { status: res.status, body: type.includes('json') && text !== '' ? JSON.parse(text) : text }
    },
    events(type) {
      return type === undefined ? [...recorded] : recorded.filter((e) => e.type === type)
    },
    waitForEvent(predicate, timeoutMs = 5000) {
      const found = recorded.find(predicate)
      if (found !== undefined) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(listener)
          reject(new Error(`no matching audit event within ${timeoutMs} ms`))
        }, timeoutMs)
        const listener = (e: AuditEvent): void => {
          if (!predicate(e)) return
          clearTimeout(timer)
          waiters.delete(listener)
          resolve(e)
        }
        waiters.add(listener)
      })
    },
    stop,
  }
}

/** A name no other test run uses: for topics, hostnames, Redis prefixes. */
export function unique(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`
}
