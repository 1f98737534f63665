/**
 * MQTT 5 Topic Aliases (§3.3.2.3.4) of one direction, as two maps: what the sender has set, and
 * what the receiver has learnt from the PUBLISH packets that reached it. The two differ exactly
 * when the gateway dropped a PUBLISH that set an alias: the sender believes the alias is set, the
 * receiver never saw it (or still has the alias's previous topic). An allowed PUBLISH that then
 * uses the alias alone must be rewritten to name its topic, or the receiver would resolve the
 * alias to the wrong topic — or to none, which ends the connection [MQTT-3.3.2-7].
 *
 * Aliases are per network connection (§3.3.2.3.4), so the maps live as long as the filters.
 * Bounded: an alias is two octets (≤ 65535 entries per map) and the topic text both maps hold
 * together is capped (`budget` UTF-16 code units) — the sender's Topic Alias Maximum is enforced
 * by its receiver, which never sees what the gateway drops, so without a cap a client could make
 * the gateway hold 65535 aliases of 64 KiB topics by publishing where it may not.
 */
export class TopicAliases {
  private readonly sent = new Map<number, string>()
  private readonly known = new Map<number, string>()
  private held = 0

  constructor(private readonly budget: number) {}

  /** The sender set `alias` to `topic`; false when that would hold more topic text than the budget. */
  set(alias: number, topic: string): boolean {
    return this.put(this.sent, alias, topic)
  }

  /** The topic the sender last set for `alias`, undefined when it never set one. */
  topicOf(alias: number): string | undefined {
    return this.sent.get(alias)
  }

  /** True when the receiver already resolves `alias` to `topic`. */
  knows(alias: number, topic: string): boolean {
    return this.known.get(alias) === topic
  }

  /** A PUBLISH naming `topic` with `alias` reached the receiver; false when over the budget. */
  learn(alias: number, topic: string): boolean {
    return this.put(this.known, alias, topic)
  }

  clear(): void {
    this.sent.clear()
    this.known.clear()
    this.held = 0
  }

  private put(map: Map<number, string>, alias: number, topic: string): boolean {
    const previous = map.get(alias)
    if (previous === topic) return true
    const held = this.held - (previous?.length ?? 0) + topic.length
    if (held > this.budget) return false
    this.held = held
    map.set(alias, topic)
    return true
  }
}
