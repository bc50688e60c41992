/**
 * Human-readable form of a (minimised) case: options, then each client's packets as hex with
 * what mqtt-packet makes of them, ready to paste into a regression test.
 */
import * as mqtt from 'mqtt-packet'
import type { FuzzCase } from './case'

function decode (b: Buffer, v: number): string {
  const p = mqtt.parser({ protocolVersion: v })
  let out = ''
  p.on('packet', (x: mqtt.Packet) => {
    const o: Record<string, unknown> = { ...x }
    for (const k of ['length', 'topic', 'payload', 'retain', 'qos', 'dup']) if (o[k] === null || o[k] === false || (k === 'qos' && o[k] === 0) || k === 'length') delete o[k]
    if (Buffer.isBuffer(o.payload)) o.payload = `<${(o.payload as Buffer).length} bytes>`
    out += JSON.stringify(o, (_k, val: unknown) => (val as { type?: string })?.type === 'Buffer' ? '<bytes>' : val)
  })
  p.on('error', (e: Error) => { out += `(mqtt-packet: ${e.message})` })
  try { p.parse(b) } catch (e) { out += `(mqtt-packet threw: ${(e as Error).message})` }
  return out.length > 300 ? `${out.slice(0, 300)}...` : out
}

export function describeCase (c: FuzzCase): string {
  const lines = [`seed ${c.seed}, ${c.persistence} persistence${c.persistence === 'file' ? ` (${c.syncMode}, compact at ${c.compactThreshold})` : ''}, broker options ${JSON.stringify(c.broker)}` +
    (c.closeEarlyMs !== undefined ? `, broker closed ${c.closeEarlyMs} ms into the round` : '') +
    (c.crashCopyMs !== undefined ? `, crash image of the persistence taken ${c.crashCopyMs} ms into the round` : '')]
  c.clients.forEach((cl, i) => {
    lines.push(`client ${i}: MQTT level ${cl.version} over ${cl.transport}, wave ${cl.wave}, ${cl.autoAck ? 'acks deliveries' : 'no acks'}, then ${cl.ending}` +
      (cl.mutations.length > 0 ? `, mutations ${cl.mutations.join(' ')}` : '') +
      (cl.pauseAt !== undefined ? `, pauses ${cl.pauseMs ?? 0} ms after packet ${cl.pauseAt}` : '') +
      (cl.pauseReading === true ? ', does not read until the end' : '') +
      (cl.lingerMs !== undefined ? `, stays ${cl.lingerMs} ms` : ''))
    for (const p of cl.packets) {
      const hex = p.length > 96 ? `${p.subarray(0, 96).toString('hex')}...(${p.length} bytes)` : p.toString('hex')
      lines.push(`  ${hex}  ${decode(p, cl.version)}`)
    }
  })
  return lines.join('\n')
}
