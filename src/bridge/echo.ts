/*
 * Retained messages that would cross back. No Local keeps a live message from returning over the
 * bridge, but not the retained messages a broker sends for a subscription: at each (re)connection
 * the bridge subscribes again on both sides (to carry the retained state across, as Mosquitto
 * does), and each side would send back the retained values the bridge itself put there. The
 * bridge remembers, per topic, the last retained value it brought to each side and does not carry
 * that same value back. Bounded; a forgotten entry costs one harmless re-send of an equal value.
 */

const MAX_ENTRIES = 10000

class LastValues {
  private readonly map = new Map<string, Buffer>()

  set (topic: string, payload: Buffer): void {
    this.map.delete(topic)
    this.map.set(topic, payload)
    if (this.map.size > MAX_ENTRIES) this.map.delete(this.map.keys().next().value as string)
  }

  is (topic: string, payload: Buffer): boolean {
    const v = this.map.get(topic)
    return v !== undefined && v.equals(payload)
  }

  delete (topic: string): void { this.map.delete(topic) }
  get size (): number { return this.map.size }
}

export class EchoFilter {
  /** Retained values the bridge published locally (by local topic). */
  readonly local = new LastValues()
  /** Retained values the bridge published at the remote (by remote topic). */
  readonly remote = new LastValues()

  /** A retained message from the local side: is it the value the bridge itself brought in? */
  outgoingIsEcho (localTopic: string, payload: Buffer): boolean {
    return this.local.is(localTopic, payload)
  }

  /** A retained message from the remote: is it the value the bridge itself sent there? */
  incomingIsEcho (remoteTopic: string, payload: Buffer): boolean {
    return this.remote.is(remoteTopic, payload)
  }

  /** A retained local value went out as `remoteTopic`. */
  sentOut (localTopic: string, remoteTopic: string, payload: Buffer): void {
    this.local.delete(localTopic)
    this.remote.set(remoteTopic, payload)
  }

  /** A retained remote value came in as `localTopic`. */
  cameIn (remoteTopic: string, localTopic: string, payload: Buffer): void {
    this.remote.delete(remoteTopic)
    this.local.set(localTopic, payload)
  }
}
