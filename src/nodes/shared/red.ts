/**
 * The slice of Node-RED's runtime API the Hearth nodes use, typed here so the package needs no
 * extra type dependency. It matches Node-RED 4.1 and 5.0 (`@node-red/registry` createNodeApi).
 */

/** A message travelling between nodes. */
export interface NodeMessage {
  _msgid?: string
  topic?: unknown
  payload?: unknown
  [key: string]: unknown
}

export type SendFn = (msg: NodeMessage | null | Array<NodeMessage | null>) => void
export type DoneFn = (err?: Error) => void

type StatusFill = 'red' | 'green' | 'yellow' | 'blue' | 'grey'
type StatusShape = 'ring' | 'dot'

export interface NodeStatus {
  fill?: StatusFill
  shape?: StatusShape
  text?: string
}

/** What every node's config (the flow JSON) carries. */
interface NodeDef {
  id: string
  type: string
  name?: string
  z?: string
}

/** A node instance, as `RED.nodes.createNode` makes it. */
export interface Node<TCreds extends object = Record<string, never>> {
  id: string
  type: string
  name?: string
  z?: string
  credentials: Partial<TCreds>
  on (event: 'input', listener: (msg: NodeMessage, send: SendFn, done: DoneFn) => void): void
  on (event: 'close', listener: (removed: boolean, done: () => void) => void): void
  send (msg: NodeMessage | null | Array<NodeMessage | null>): void
  status (status: NodeStatus | Record<string, never>): void
  error (logMessage: unknown, msg?: NodeMessage): void
  warn (logMessage: unknown): void
  log (logMessage: unknown): void
  debug (logMessage: unknown): void
}

interface RegisterOptions {
  credentials?: Record<string, { type: 'text' | 'password' }>
  /** Node settings: names start with the type in camelCase; `exportable` ones reach the editor as RED.settings. */
  settings?: Record<string, { value: unknown, exportable?: boolean }>
}

/** `RED` as handed to a node module's init function. */
export interface NodeAPI {
  nodes: {
    createNode (node: object, def: NodeDef): void
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    registerType (type: string, constructor: (this: any, def: any) => void, options?: RegisterOptions): void
    getNode (id: string): unknown
    /** The configs of every node of the active flows. */
    eachNode? (cb: (config: { id?: string, type?: string, [key: string]: unknown }) => void): void
    getCredentials? (id: string): Record<string, unknown> | undefined
    /** Replace a node's stored credentials (written to disk with the next deploy). */
    addCredentials? (id: string, creds: Record<string, unknown>): unknown
  }
  /** The editor's admin HTTP routes (an Express app). */
  httpAdmin?: HttpRoutes
  auth?: { needsPermission (permission: string): HttpHandler }
  /** Node-RED's HTTP(S) server. */
  server?: unknown
  /** i18n: a key of this node set's catalog (or `ns:key`), with optional substitutions. */
  _ (key: string, substitutions?: Record<string, string | number>): string
  settings?: { [key: string]: unknown }
  version?: () => string
}

/** The slice of Express the admin routes use. */
interface HttpRequest { params: Record<string, string>, body?: unknown }
export interface HttpResponse {
  status (code: number): HttpResponse
  json (body: unknown): void
}
export type HttpHandler = (req: HttpRequest, res: HttpResponse, next: () => void) => void
interface HttpRoutes {
  get (path: string, ...handlers: HttpHandler[]): void
  post (path: string, ...handlers: HttpHandler[]): void
}

export type NodeInitializer = (RED: NodeAPI) => void | Promise<void>
