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
