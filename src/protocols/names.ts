/**
 * The protocols the gateway speaks, as listeners and instances name them. Kept apart from the
 * registry (src/protocols/registry.ts) so that the config schema can name them without loading
 * every protocol's stages; test/unit/protocol-registry.test.ts checks that the two agree.
 */
export const PROTOCOL_NAMES = ['mqtt', 'amqp'] as const
export type ProtocolName = (typeof PROTOCOL_NAMES)[number]
