import type { Connection } from '../connection'

/** PINGREQ: answer PINGRESP [v3.1.1 MQTT-3.12.4-1 / v5 MQTT-3.12.4-1]. */
export function handlePingreq (conn: Connection): void {
  conn.sendPacket({ cmd: 'pingresp' })
}
