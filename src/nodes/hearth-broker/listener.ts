/**
 * The node's TCP listener. It binds as soon as the node starts, before the broker has loaded its
 * state from disk (which can take a second with 100k retained messages, or longer while a closing
 * broker still holds the folder): clients that connect meanwhile wait, and are served once the
 * broker is ready, instead of being refused. Port problems are reported at once.
 */
import net from 'node:net'
import type { Broker } from '../../broker'

export class Listener {
  readonly port: number
  private target: Broker | undefined
  private readonly waiting = new Set<net.Socket>()
  private closed: Promise<void> | undefined

  private constructor (private readonly server: net.Server, onError: (err: Error) => void) {
    this.port = (server.address() as net.AddressInfo).port
    server.on('error', onError)
  }

  /** Bind `port` on `host`; rejects with the listen error (EADDRINUSE, EACCES, ...). */
  static async open (port: number, host: string, onError: (err: Error) => void): Promise<Listener> {
    // eslint-disable-next-line prefer-const -- assigned once the server exists; the connection callback reads it
    let listener: Listener | undefined
    const server = net.createServer({ noDelay: true }, (socket) => listener?.accept(socket))
    await new Promise<void>((resolve, reject) => {
      const onListenError = (err: Error): void => { server.off('listening', onListening); reject(err) }
      const onListening = (): void => { server.off('error', onListenError); resolve() }
      server.once('error', onListenError)
      server.once('listening', onListening)
      server.listen(port, host)
    })
    listener = new Listener(server, onError)
    return listener
  }

  private accept (socket: net.Socket): void {
    if (this.closed) { socket.destroy(); return }
    if (this.target) { this.target.handle(socket); return }
    // Not read until the broker takes it: the CONNECT waits in the socket's buffer.
    this.waiting.add(socket)
    socket.on('error', () => socket.destroy())
    socket.once('close', () => this.waiting.delete(socket))
  }

  /** From now on, connections go to `broker`, starting with those that were waiting. */
  serve (broker: Broker): void {
    this.target = broker
    for (const socket of this.waiting) {
      socket.removeAllListeners('error')
      socket.removeAllListeners('close')
      broker.handle(socket)
    }
    this.waiting.clear()
  }

  /** Stop accepting and drop connections that were never served; resolves once the port is free. */
  close (): Promise<void> {
    if (!this.closed) {
      this.closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
      for (const socket of this.waiting) socket.destroy()
      this.waiting.clear()
    }
    return this.closed
  }
}
