import { createServer, type AddressInfo, type Server } from 'node:net'
import { Aedes } from 'aedes'

/**
 * The embedded MQTT backend: one aedes broker per instance that has no real broker configured,
 * each on its own loopback port so that the data path treats it exactly like Mosquitto (connect,
 * forward CONNECT, splice) and instances never see each other's topics. aedes speaks MQTT 3.1 and
 * 3.1.1 only; an MQTT 5 device needs a real broker behind the gateway.
 */
export class EmbeddedBrokers {
  private readonly brokers = new Map<string, Promise<{ broker: Aedes; server: Server; port: number }>>()

  addressFor(instanceId: string): Promise<{ host: string; port: number }> {
    let entry = this.brokers.get(instanceId)
    if (entry === undefined) {
      entry = start()
      this.brokers.set(instanceId, entry)
      entry.catch(() => this.brokers.delete(instanceId))
    }
    return entry.then(({ port }) => ({ host: '127.0.0.1', port }))
  }

  /** Stops the broker of a deleted instance (its clients are disconnected). */
  async stop(instanceId: string): Promise<void> {
    const entry = this.brokers.get(instanceId)
    this.brokers.delete(instanceId)
    if (entry !== undefined) await shutdown(await entry)
  }

  async close(): Promise<void> {
    const all = [...this.brokers.values()]
    this.brokers.clear()
    await Promise.all(all.map(async (e) => shutdown(await e).catch(() => undefined)))
  }
}

async function start(): Promise<{ broker: Aedes; server: Server; port: number }> {
  const broker = await Aedes.createBroker()
  const server = createServer((socket) => broker.handle(socket))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return { broker, server, port: (server.address() as AddressInfo).port }
}

async function shutdown({ broker, server }: { broker: Aedes; server: Server }): Promise<void> {
  await new Promise<void>((resolve) => broker.close(() => resolve()))
  await new Promise<void>((resolve) => server.close(() => resolve()))
}
