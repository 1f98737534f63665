import type { Socket } from 'node:net'
import type { ListenerConfig } from '../../src/config/schema'
import { asConnId } from '../../src/ids'
import type { Accepted, Identified, Proxied, Secured } from '../../src/proxy/lifecycle/context'
import type { InstanceRecord } from '../../src/store/records'

/** Phase contexts for stage tests: what the earlier stages would have handed on. */
export function listenerConfig(over: Partial<ListenerConfig> = {}): ListenerConfig {
  return {
    name: 'test', protocol: 'mqtt', host: '127.0.0.1', port: 0, tls: true,
    proxyProtocol: { mode: 'off', trustedCidrs: [] },
    ...over,
  } as ListenerConfig
}

export function accepted(socket: Socket, over: Partial<Omit<Accepted, 'phase'>> = {}): Accepted {
  return {
    phase: 'accepted', id: asConnId('conn-test'), listener: listenerConfig(), socket, acceptedAt: 0,
    startedAt: new Date().toISOString(), signal: new AbortController().signal,
    source: { ip: '192.0.2.10', port: 40000 },
    ...over,
  }
}

export function proxied(socket: Socket, over: Partial<Omit<Proxied, 'phase'>> = {}): Proxied {
  return { ...accepted(socket, over), phase: 'proxied', ...over }
}

export function secured(socket: Socket, over: Partial<Omit<Secured, 'phase'>> = {}): Secured {
  return { ...proxied(socket), phase: 'secured', client: socket, ...over }
}

export function instance(over: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    id: 'inst-test', protocol: 'mqtt', hostnames: ['inst.test'], backend: { kind: 'tcp', host: '127.0.0.1', port: 1 },
    accessType: 'ANY_TUNNEL', options: {}, createdAt: '', updatedAt: '',
    ...over,
  } as InstanceRecord
}

export function identified<H>(socket: Socket, hello: H, over: Partial<Omit<Identified<H>, 'phase' | 'hello'>> = {}): Identified<H> {
  return {
    ...secured(socket), phase: 'identified', instance: instance(), identity: { clientId: 'client-1' }, actor: {}, hello,
    ...over,
  }
}

/** A handshake deadline for a stage test: the signal aborts after `ms`, as the runner's would. */
export function deadline(ms: number): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), ms)
  return { signal: controller.signal, clear: () => clearTimeout(timer) }
}

/** How a stage call ended: its step, or what it threw, and after how long. */
export interface Settled<S> {
  readonly step?: S
  readonly error?: unknown
  readonly ms: number
}

export async function settle<S>(run: () => S | Promise<S>): Promise<Settled<S>> {
  const start = performance.now()
  try {
    const step = await run()
    return { step, ms: performance.now() - start }
  } catch (error) {
    return { error, ms: performance.now() - start }
  }
}

/**
 * Counts unhandled promise rejections from now on (properties assert it stays 0); the listener
 * is removed by `stop`.
 */
export function unhandledRejections(): { count(): number; stop(): void } {
  let n = 0
  const listener = (): void => { n += 1 }
  process.on('unhandledRejection', listener)
  return { count: () => n, stop: () => { process.off('unhandledRejection', listener) } }
}
