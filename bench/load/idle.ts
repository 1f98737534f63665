import { MqttSession } from './mqtt-session'
import { ConnectTemplate } from './mqtt-wire'
import { CLIENT_ID_PREFIX } from './names'
import type { Target } from './target'

/**
 * Idle connections for the memory measurement (issue 5 §2): MQTT sessions through the endpoint
 * (TLS with the client certificate + CONNECT/CONNACK, keepalive 0), opened `concurrency` at a time
 * and then held without traffic until closeIdle().
 */
let held: MqttSession[] = []

export async function openIdle(a: { target: Target; count: number; concurrency: number }): Promise<{ opened: number; failures: number; firstError?: string }> {
  const template = new ConnectTemplate(`${CLIENT_ID_PREFIX.idle}${process.pid}-`)
  let next = 0
  let failures = 0
  let firstError: string | undefined
  await Promise.all(Array.from({ length: a.concurrency }, async () => {
    while (next < a.count) {
      const n = next++
      try {
        held.push(await MqttSession.open(a.target, template.encode(n)))
      } catch (err) {
        failures++
        firstError ??= err instanceof Error ? err.message : String(err)
      }
    }
  }))
  return { opened: held.length, failures, ...(firstError !== undefined ? { firstError } : {}) }
}

export async function closeIdle(): Promise<void> {
  for (const s of held) s.socket.destroy()
  held = []
  await new Promise((r) => setTimeout(r, 200))
}
