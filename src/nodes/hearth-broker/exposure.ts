/**
 * Is the broker open? Open means: a client that gives no user name gets in (anonymous clients are
 * allowed), may publish and subscribe to every topic (no ACL), and can reach the broker from
 * another machine (a listener on a non-loopback address that asks no client certificate). The
 * node keeps anonymous access on by default, so factory-default devices connect to a new broker,
 * but says so: a yellow status and one log line naming what to set.
 */
import type { ListenerPlan } from './config'

/** 127.0.0.0/8, ::1, localhost and IPv4-mapped loopback. */
export function isLoopback (host: string | undefined): boolean {
  if (host === undefined) return false
  const h = host.toLowerCase().replace(/^\[|\]$/g, '')
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(h)
}

/** Can a client on another machine reach this listener without a client certificate? */
function reachable (p: ListenerPlan, nodeRedHost: unknown): boolean {
  if (p.requireCertificate) return false
  const host = p.kind === 'nodered' ? (typeof nodeRedHost === 'string' && nodeRedHost !== '' ? nodeRedHost : undefined) : p.host
  return !isLoopback(host)
}

/** The listeners through which anyone may connect anonymously with full access; empty when the broker is not open. */
export function openListeners (plans: readonly ListenerPlan[], allowAnonymous: boolean, aclEnabled: boolean, nodeRedHost: unknown): ListenerPlan[] {
  if (!allowAnonymous || aclEnabled) return []
  return plans.filter(p => reachable(p, nodeRedHost))
}
