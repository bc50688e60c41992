/**
 * Ids for the messages a node makes (`msg._msgid`), in Node-RED's shape: 16 hexadecimal digits.
 * Node-RED's own `generateId()` draws eight random bytes and formats each one, which was the
 * largest single cost of a message from the subscribe node on the in-process path. Here the first
 * eight digits are drawn once per process and the last eight count up from a random start, so two
 * ids of one process never collide before 2^32 messages. The first fourteen digits change once
 * every 256 ids; an id is then that text plus two digits from a table.
 */
import { randomBytes } from 'node:crypto'

const PREFIX = randomBytes(4).toString('hex')
const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
let counter = randomBytes(4).readUInt32BE(0)
let head = ''

/** A fresh message id: 16 hexadecimal digits, unique within this process. */
export function messageId (): string {
  counter = (counter + 1) >>> 0
  const low = counter & 0xff
  if (low === 0 || head === '') head = PREFIX + (counter >>> 8).toString(16).padStart(6, '0')
  return head + HEX2[low]
}
