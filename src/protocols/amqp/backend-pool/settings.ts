import type { Config } from '../../../config/schema'
import type { WarmPoolSettings } from './warm-pool'

/**
 * The pool's settings from the running config: `limits.amqpWarmPool`, and for its logins the
 * same bounds as a client's (the backend connect timeout, the handshake frame cap).
 */
export function warmPoolSettings(limits: Config['limits']): WarmPoolSettings {
  return {
    size: limits.amqpWarmPool.size,
    maxIdleMs: limits.amqpWarmPool.maxIdleMs,
    loginTimeoutMs: limits.backendConnectTimeoutMs,
    maxFrameBytes: limits.maxHandshakeFrameBytes,
  }
}
