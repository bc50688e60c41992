/**
 * The bounded queue of messages an external connection has accepted and not yet handed to the
 * socket: while it is disconnected, and while the socket is full (back-pressure). A FIFO with
 * O(1) push and shift, counting messages and bytes (topic + payload).
 */
import type { Message } from '../../../broker/types'

/** Called once the message was accepted (no argument) or could not be (an Error). */
export type PublishDone = (err?: Error) => void

export interface QueuedMessage {
  message: Message
  bytes: number
  done: PublishDone
}

export interface QueueLimits {
  maxMessages: number
  maxBytes: number
}

export class OutgoingQueue {
  private items: Array<QueuedMessage | undefined> = []
  private head = 0
  private totalBytes = 0

  constructor (private readonly limits: QueueLimits) {}

  get length (): number { return this.items.length - this.head }
  get bytes (): number { return this.totalBytes }

  /** The bytes a message counts for. */
  static sizeOf (message: Message): number {
    return Buffer.byteLength(message.topic) + message.payload.length
  }

  /** Would one more message of `bytes` stay within the limits? */
  fits (bytes: number): boolean {
    return this.length < this.limits.maxMessages && this.totalBytes + bytes <= this.limits.maxBytes
  }

  push (item: QueuedMessage): void {
    this.items.push(item)
    this.totalBytes += item.bytes
  }

  peek (): QueuedMessage | undefined {
    return this.items[this.head]
  }

  shift (): QueuedMessage | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]
    this.items[this.head++] = undefined
    if (item) this.totalBytes -= item.bytes
    // Compact now and then so the array does not keep the sent part alive.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  /** Take every queued message out (to fail them). */
  drain (): QueuedMessage[] {
    const all = this.items.slice(this.head) as QueuedMessage[]
    this.items = []
    this.head = 0
    this.totalBytes = 0
    return all
  }
}
