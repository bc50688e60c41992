// Shared setup for the node specs: Node-RED 4.1 through node-red-node-test-helper, the BUILT nodes
// (nodes/*.js, as shipped), MQTT.js network clients and small waiting helpers.
import net from 'node:net'
import path from 'node:path'
import helper from 'node-red-node-test-helper'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { pollUntil } from '../helpers/wait'

helper.init(require.resolve('node-red-4'))

const root = path.join(__dirname, '..', '..')
const builtNode = (type: string): unknown => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(path.join(root, 'nodes', `${type}.js`)) as { default?: unknown }
  return mod.default ?? mod
}

/** The four Hearth node modules, as built. */
export const hearthNodes = ['hearth-broker', 'hearth-connection', 'hearth-publish', 'hearth-subscribe'].map(builtNode)

const coreNodes = path.join(path.dirname(require.resolve('node-red-4/package.json')), 'node_modules/@node-red/nodes/core/common')
/** Core catch and complete nodes, to observe done() as users do. */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- Node-RED's core nodes are CommonJS files loaded by path
export const catchNode: unknown = require(path.join(coreNodes, '25-catch.js'))
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const completeNode: unknown = require(path.join(coreNodes, '24-complete.js'))

/** Core's tls-config node, for external connections over TLS. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const tlsNode: unknown = require(path.join(path.dirname(coreNodes), 'network', '05-tls.js'))

export { helper }

/** A port that is free right now (bound on 127.0.0.1 then released). */
export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Hold a port with a plain TCP server; returns the server (close it after). */
export async function occupyPort (): Promise<net.Server> {
  const server = net.createServer((s) => s.destroy())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

/**
 * Connect an MQTT.js client and wait for CONNACK. `onMessage` is attached before connecting, so
 * messages a persistent session delivers right after CONNACK are not missed.
 */
export async function connectClient (port: number, options: IClientOptions = {}, onMessage?: (topic: string, payload: Buffer, packet: any) => void): Promise<MqttClient> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
  if (onMessage) client.on('message', onMessage)
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  return client
}

export async function endClient (client: MqttClient | undefined): Promise<void> {
  if (client) await client.endAsync(true)
}

/** Poll until `check` returns a truthy value (or throw after `ms`). */
export function waitFor<T> (check: () => T | undefined | false | null, ms = 3000, what = 'condition'): Promise<T> {
  return pollUntil(check, ms, what, 10)
}

/** Collect the messages a helper node receives. */
export function collect (id: string): Array<Record<string, any>> {
  const out: Array<Record<string, any>> = []
  helper.getNode(id).on('input', (msg: Record<string, any>) => { out.push(msg) })
  return out
}

type SpyCall = { thisValue: unknown, args: any[] }

/** Calls of a spied Node method made by node `id` (the helper spies on the shared prototype). */
function callsOf (id: string, method: 'status' | 'error' | 'log' | 'debug' | 'warn'): SpyCall[] {
  const n = helper.getNode(id)
  return (n[method].getCalls() as SpyCall[]).filter((c) => c.thisValue === n)
}

/** The most recent status node `id` set, through the helper's spy. */
export function lastStatus (id: string): { fill?: string, shape?: string, text?: string } | undefined {
  const calls = callsOf(id, 'status')
  return calls.length ? calls[calls.length - 1].args[0] : undefined
}

/** Every error node `id` reported, as text. */
export function errors (id: string): string[] {
  return callsOf(id, 'error').map((c) => String(c.args[0] instanceof Error ? c.args[0].message : c.args[0]))
}

/** Every line node `id` logged at `level` (log is info), as text. */
export function logged (id: string, level: 'log' | 'debug' | 'warn'): string[] {
  return callsOf(id, level).map((c) => String(c.args[0]))
}

/** Send `msg` into a node and resolve with the message a wired helper node receives next. */
export function nextMessage (id: string, ms = 3000): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message on ${id}`)), ms)
    helper.getNode(id).once('input', (msg: Record<string, any>) => { clearTimeout(timer); resolve(msg) })
  })
}

/** The error text of a message from a Catch node (Node-RED prefixes "Error: "). */
export function caughtText (msg: Record<string, any>): string {
  return String(msg.error?.message ?? '').replace(/^Error: /, '')
}

/**
 * A 'sink' node type whose messages outlive a redeploy (helper nodes are replaced on each
 * deploy): every message it receives is pushed to `sink`.
 */
export const sink: Array<Record<string, any>> = []
export function sinkNode (RED: any): void {
  RED.nodes.registerType('sink', function (this: any, config: object) {
    RED.nodes.createNode(this, config)
    this.on('input', (msg: Record<string, any>, _send: unknown, done: () => void) => { sink.push(msg); done() })
  })
}

/**
 * An 'acl-broker' node type: a real core broker (the built dist/broker) with an authoriser that
 * refuses publishing under `secret/`, shaped like a hearth-broker node (`ready`, `broker`), so a
 * connection node can use it. No listener: in-process clients only.
 */
export function aclBrokerNode (RED: any): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const core = require(path.join(root, 'dist/broker/index.js')) as typeof import('../../src/broker')
  RED.nodes.registerType('acl-broker', function (this: any, config: object) {
    RED.nodes.createNode(this, config)
    const broker = core.createBroker({
      authorize: { authorizePublish: (_c, topic) => !topic.startsWith('secret/'), authorizeSubscribe: () => true },
    })
    this.broker = broker
    this.ready = broker.ready
    this.on('close', (_removed: boolean, done: () => void) => { broker.close().then(done, done) })
  })
}

/**
 * Unload the flows, first forgetting the retained messages of broker node `id`: its memory state
 * outlives a redeploy by design, and each test starts from an empty broker.
 */
export async function unloadClean (id = 'broker'): Promise<void> {
  const n = helper.getNode(id)
  n?.broker?.clearRetained('#')
  await helper.unload()
}

/**
 * Put back the Node methods and the logger the test helper wraps in sinon spies: the spies record
 * every call, which dominates a 300k-message burst. Status and error checks stop working after this.
 */
export function unspy (nodeIds: string[]): void {
  const h = helper as unknown as { _NodePrototype: Record<string, any>, _logSpy?: { restore (): void } }
  for (const m of ['log', 'status', 'warn', 'error', 'debug', 'trace', 'send', 'receive']) {
    const wrapped = h._NodePrototype[m]?.wrappedMethod
    if (typeof wrapped === 'function') h._NodePrototype[m] = wrapped
  }
  h._logSpy?.restore()
  // Node-RED copies Node.prototype.send onto each wired node when it is created.
  for (const id of nodeIds) {
    const n = helper.getNode(id)
    if (Object.prototype.hasOwnProperty.call(n, 'send') && n.send.wrappedMethod) n.send = h._NodePrototype.send
  }
}
