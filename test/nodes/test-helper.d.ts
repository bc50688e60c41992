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
  /** supertest, on the admin routes (RED.httpAdmin). */
  interface TestResponse { status: number, text: string, body: any, headers: Record<string, string> }
  interface TestRequest extends PromiseLike<TestResponse> {
    expect (status: number): TestRequest
    send (body: unknown): TestRequest
    set (field: string, value: string): TestRequest
  }
  interface Helper {
    /** Requests to the admin routes the nodes registered. */
    request (): { get (path: string): TestRequest, post (path: string): TestRequest }
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
    /** supertest on the admin routes (RED.httpAdmin) the nodes registered. */
    request (): any
    /** The runtime's credential store. */
    credentials: { get (id: string): Record<string, unknown> | undefined }
  }
  const helper: Helper
  export = helper
}
