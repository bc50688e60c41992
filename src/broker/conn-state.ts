/** Where a network connection is in its life (Mosquitto's mosq_cs_* states). */
export const enum ConnState {
  /** Accepted; the first packet must be CONNECT [v3.1.1 MQTT-3.1.0-1 / v5 MQTT-3.1.0-1]. */
  AwaitConnect,
  /** CONNECT received; authentication or session binding in progress. */
  Connecting,
  /** CONNACK sent: every other packet is handled. */
  Active,
  Closed,
}
