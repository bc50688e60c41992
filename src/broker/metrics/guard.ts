/*
 * $SYS belongs to the broker: a client's PUBLISH (or will) under `$SYS` is refused as not
 * authorised (PUBACK/PUBREC 0x87 on MQTT 5; acknowledged and dropped on 3.1.1), as Mosquitto
 * does, except a bridge's connection state, `$SYS/broker/connection/<id>/state`.
 */

/** May a client publish to `topic` (a valid topic name)? */
export function clientMayPublish (topic: string): boolean {
  if (topic.charCodeAt(0) !== 0x24 || !topic.startsWith('$SYS') || (topic.length > 4 && topic.charCodeAt(4) !== 0x2f)) return true
  return isBridgeState(topic)
}

const BRIDGE_PREFIX = '$SYS/broker/connection/'
const BRIDGE_SUFFIX = '/state'

/** `$SYS/broker/connection/<id>/state`, with <id> one non-empty level. */
function isBridgeState (topic: string): boolean {
  if (!topic.startsWith(BRIDGE_PREFIX) || !topic.endsWith(BRIDGE_SUFFIX)) return false
  const id = topic.slice(BRIDGE_PREFIX.length, topic.length - BRIDGE_SUFFIX.length)
  return id.length > 0 && !id.includes('/')
}
