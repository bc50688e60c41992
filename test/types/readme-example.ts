// The README's "Using the core from code" example, compiled by `npm run typecheck:types` against the
// declarations the build writes (dist/broker/*.d.ts), reached the way a user reaches them: through
// the package name and package.json "types". The @ts-expect-error lines prove the types are real
// (with `any` they would not be errors, and tsc would reject the unused directives).
import type { Duplex } from 'node:stream'
import { createBroker, type DeliveredMessage, type LocalClient } from '@hearth/node-red-mqtt'

export async function readmeExample (anyDuplexStream: Duplex): Promise<number> {
  const broker = createBroker({ maximumQoS: 2 })
  const { port } = await broker.listen({ port: 1883, host: '0.0.0.0' })
  broker.handle(anyDuplexStream) // TLS, WebSocket, in-memory: any duplex stream
  const c: LocalClient = await broker.connectLocal({ clientId: 'app', protocolVersion: 5 }) // in-process, no socket
  c.on('message', (m: DeliveredMessage) => console.log(m.topic, m.payload.toString()))
  await c.subscribe([{ topic: 'sensors/#', qos: 1 }])
  await c.publish({ topic: 'hello', payload: Buffer.from('world'), qos: 1, retain: true })
  broker.on('clientConnected', info => { console.log(info.clientId) }) // also clientDisconnected, subscribed, unsubscribed, messageDropped, warning
  await broker.close()

  // @ts-expect-error maximumQoS is 0, 1 or 2
  createBroker({ maximumQoS: 3 })
  // @ts-expect-error a payload is a Buffer
  await c.publish({ topic: 'hello', payload: 'world', qos: 1, retain: false })
  // @ts-expect-error listen() resolves to { port, ... }, not a number
  const n: number = await broker.listen({ port: 0 })
  return port + n
}
