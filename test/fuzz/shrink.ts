/**
 * Minimise a failing case: drop clients, then packets, then simplify options and transports,
 * then cut bytes out of packet bodies, keeping each step only while the round still fails the same
 * way (same failure signature). Greedy and budgeted, since each try is a whole broker round.
 */
import type { FuzzCase, ClientScript } from './case'
import { runRound, type Failure } from './driver'
import { readVarint, encodeVarint } from './layout'

/** Failure identity for shrinking: kind plus the detail with client numbers, ids and counts blurred. */
export function signature (f: Failure): string {
  const d = f.detail
    .replace(/^(first|restarted) broker: /, '')
    .replace(/client \d+: /g, '')
    .replace(/client [^ ]+ closed/g, 'client closed')
    .replace(/\b[0-9a-f]{6,}\b/g, 'HEX')
    .replace(/"[^"]*"/g, 'S')
    .replace(/\d+/g, 'N')
  const lines = d.split('\n')
  // a multi-line detail (a state diff) keeps the first words of its first item
  return `${f.kind}: ${lines[0].slice(0, 70)}${lines.length > 1 ? ` / ${lines[1].trim().split(' ').slice(0, 2).join(' ')}` : ''}`
}

export interface ShrinkOptions {
  budgetMs: number
  log?: (line: string) => void
}

export interface ShrinkResult { case: FuzzCase, trials: number, reproduced: boolean }

function withClients (c: FuzzCase, clients: ClientScript[]): FuzzCase {
  return { ...c, clients }
}

function withPackets (c: FuzzCase, i: number, packets: Buffer[]): FuzzCase {
  return withClients(c, c.clients.map((cl, k) => k === i ? { ...cl, packets } : cl))
}

/** Remove body bytes [a, b) of a packet and rewrite its Remaining Length. */
function cutBody (p: Buffer, a: number, b: number): Buffer | null {
  const r = readVarint(p, 1)
  if (r === null) return null
  const body = p.subarray(r[1])
  if (a >= body.length) return null
  const nb = Buffer.concat([body.subarray(0, a), body.subarray(Math.min(b, body.length))])
  return Buffer.concat([p.subarray(0, 1), encodeVarint(nb.length), nb])
}

export async function shrink (start: FuzzCase, target: string, opts: ShrinkOptions): Promise<ShrinkResult> {
  const deadline = Date.now() + opts.budgetMs
  const checkMemory = target.startsWith('memory')
  let trials = 0
  const fails = async (c: FuzzCase): Promise<boolean> => {
    trials++
    const r = await runRound(c, { checkMemory })
    return r.failures.some(f => signature(f) === target)
  }
  const log = opts.log ?? (() => {})
  let reproduced = false
  for (let k = 0; k < 3 && !reproduced; k++) reproduced = await fails(start)
  if (!reproduced) return { case: start, trials, reproduced }
  let best = start
  const tryCase = async (c: FuzzCase): Promise<boolean> => {
    if (Date.now() > deadline) return false
    if (await fails(c)) { best = c; return true }
    return false
  }
  let progress = true
  while (progress && Date.now() < deadline) {
    progress = false
    // 1. whole clients, last first (later waves depend on earlier ones less often)
    for (let i = best.clients.length - 1; i >= 0 && best.clients.length > 1; i--) {
      if (await tryCase(withClients(best, best.clients.filter((_, k) => k !== i)))) { progress = true; log(`  ${best.clients.length} clients`) }
    }
    // 2. packets, in halving chunks
    for (let i = 0; i < best.clients.length; i++) {
      for (let chunk = Math.max(1, best.clients[i].packets.length >> 1); chunk >= 1; chunk >>= 1) {
        for (let s = best.clients[i].packets.length - chunk; s >= 0; s -= chunk) {
          const ps = best.clients[i].packets
          if (ps.length <= 1) break
          if (await tryCase(withPackets(best, i, [...ps.slice(0, s), ...ps.slice(s + chunk)]))) progress = true
        }
      }
    }
    // 3. simpler options and client behaviour
    const simpler: Array<(c: FuzzCase) => FuzzCase> = [
      c => ({ ...c, persistence: 'memory' }),
      c => ({ ...c, syncMode: 'always', compactThreshold: 8 * 1024 * 1024 }),
      c => ({ ...c, closeEarlyMs: undefined }),
      c => ({ ...c, crashCopyMs: undefined }),
      ...Object.keys(best.broker).filter(k => k !== 'tickInterval').map(k => (c: FuzzCase) => {
        const o = { ...c.broker } as Record<string, unknown>
        delete o[k]
        return { ...c, broker: o }
      }),
      ...best.clients.flatMap((_, i) => [
        (c: FuzzCase) => withClients(c, c.clients.map((cl, k) => k === i ? { ...cl, autoAck: false } : cl)),
        (c: FuzzCase) => withClients(c, c.clients.map((cl, k) => k === i ? { ...cl, transport: 'duplex' as const } : cl)),
        (c: FuzzCase) => withClients(c, c.clients.map((cl, k) => k === i ? { ...cl, ending: 'end' as const } : cl)),
        (c: FuzzCase) => withClients(c, c.clients.map((cl, k) => k === i ? { ...cl, wave: 0 } : cl)),
        (c: FuzzCase) => withClients(c, c.clients.map((cl, k) => k === i ? { ...cl, pauseAt: undefined, pauseMs: undefined } : cl)),
        (c: FuzzCase) => withClients(c, c.clients.map((cl, k) => k === i ? { ...cl, pauseReading: undefined } : cl)),
        (c: FuzzCase) => withClients(c, c.clients.map((cl, k) => k === i ? { ...cl, lingerMs: undefined } : cl)),
      ]),
    ]
    for (const f of simpler) {
      const next = f(best)
      if (JSON.stringify({ ...next, clients: next.clients.map(cl => ({ ...cl, packets: cl.packets.length })) }) ===
        JSON.stringify({ ...best, clients: best.clients.map(cl => ({ ...cl, packets: cl.packets.length })) })) continue
      if (await tryCase(next)) progress = true
    }
    // 4. bytes out of packet bodies (payloads, properties), in halving chunks
    for (let i = 0; i < best.clients.length && Date.now() < deadline; i++) {
      for (let j = 0; j < best.clients[i].packets.length; j++) {
        let len = best.clients[i].packets[j].length
        for (let chunk = len >> 1; chunk >= 1 && Date.now() < deadline; chunk >>= 1) {
          for (let a = 0; a + chunk <= len; a += chunk) {
            const p = cutBody(best.clients[i].packets[j], a, a + chunk)
            if (p === null) break
            const ps = [...best.clients[i].packets]
            ps[j] = p
            if (await tryCase(withPackets(best, i, ps))) { progress = true; len = p.length; a -= chunk }
          }
        }
      }
    }
  }
  return { case: best, trials, reproduced }
}
