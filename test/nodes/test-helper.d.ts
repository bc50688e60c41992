// The slice of node-red-node-test-helper (0.3) the node specs use.
declare module 'node-red-node-test-helper' {
  interface TestNode {
    id: string
    type: string
    on (event: string, listener: (...args: any[]) => void): void
    once (event: string, listener: (...args: any[]) => void): void
    receive (msg: Record<string, unknown>): void
    [key: string]: any
  }
  interface Helper {
    init (runtimePath: string, userSettings?: Record<string, unknown>): void
    settings (userSettings: Record<string, unknown>): void
    load (nodes: unknown[] | unknown, flow: object[], credentials?: Record<string, object>): Promise<void>
    setFlows (flow: object[], type?: 'full' | 'flows' | 'nodes', credentials?: Record<string, object>): Promise<void>
    unload (): Promise<void>
    getNode (id: string): TestNode
    startServer (): Promise<void>
    stopServer (): Promise<void>
    /** http://127.0.0.1:<port> of the server startServer() runs (Node-RED's server for the nodes: RED.server). */
    url (): string
    /** The runtime's credential store. */
    credentials: { get (id: string): Record<string, unknown> | undefined }
  }
  const helper: Helper
  export = helper
}
