/*
 * An Authorizer with Mosquitto's ACL semantics (mosquitto.conf(5) acl_file; Mosquitto 2.0's
 * default ACL check), for an ACL file parsed by acl-file.ts:
 *   1. the client's topic rules (its "user" block, or the anonymous block when it gave no user
 *      name): a matching deny refuses; else a matching rule granting the access allows;
 *   2. then the pattern rules with %u / %c replaced: a matching deny refuses; else a matching
 *      grant allows. A client whose user name or client id contains '+' or '#' gets no pattern
 *      rules; patterns with %u do not apply to a client without a user name;
 *   3. anything else is refused (an empty ACL refuses everything).
 * A topic starting with '$' is matched only by rules written with a leading '$'.
 *
 * Unlike Mosquitto, SUBSCRIBE is checked too: a filter under which no topic could be read is
 * refused, one under which some topic could be read is granted; authorizeRead() then filters each
 * delivered message as Mosquitto's read check does, so "home/#" granted with only "home/+/temp"
 * readable delivers the temperatures and nothing else.
 */
import type { AuthClient, Authorizer } from '../auth'
import type { QoS } from '../types'
import { parseAclFile, type AclFile } from './acl-file'
import { intersect, matchLevels, someTopicOutside, splitLevels, type Levels } from './filter-logic'

/** Rules of one kind for one client: denies first, then grants by access. */
interface Group {
  deny: Levels[]
  read: Levels[]
  write: Levels[]
}

/** The rules that apply to one client (user name + client id). */
interface View {
  topic: Group | undefined
  pattern: Group | undefined
}

interface Pattern { access: string, topic: string, dollar: boolean, usesUser: boolean }

const newGroup = (): Group => ({ deny: [], read: [], write: [] })

function add (g: Group, access: string, levels: Levels): void {
  if (access === 'deny') g.deny.push(levels)
  if (access === 'read' || access === 'readwrite') g.read.push(levels)
  if (access === 'write' || access === 'readwrite') g.write.push(levels)
}

const DANGEROUS = /[+#]/

export interface AclAuthorizerOptions {
  /** Let in-process clients (Node-RED flows of this broker) do everything, ACL or not. Default false. */
  trustLocal?: boolean
  /** Clients whose resolved rules are kept (most recent first). Default 4096. */
  viewCacheSize?: number
}

/** A compiled rule set; replaced as a whole on reload. */
class RuleSet {
  private readonly anonymous: Group | undefined
  private readonly users = new Map<string, Group>()
  private readonly patterns: Pattern[] = []
  private readonly views = new Map<string, View>()

  constructor (file: AclFile, private readonly viewCacheSize: number) {
    let anonymous: Group | undefined
    for (const r of file.rules) {
      if (r.type === 'pattern') {
        this.patterns.push({ access: r.access, topic: r.topic, dollar: r.topic.startsWith('$'), usesUser: r.topic.includes('%u') })
        continue
      }
      let g: Group | undefined
      if (r.user === undefined) g = anonymous ??= newGroup()
      else {
        g = this.users.get(r.user)
        if (g === undefined) this.users.set(r.user, g = newGroup())
      }
      add(g, r.access, splitLevels(r.topic))
    }
    this.anonymous = anonymous
  }

  view (client: AuthClient): View {
    const key = `${client.username === undefined ? '-' : `+${client.username}`}\u0000${client.clientId}`
    let v = this.views.get(key)
    if (v !== undefined) return v
    v = { topic: client.username === undefined ? this.anonymous : this.users.get(client.username), pattern: this.patternsFor(client) }
    if (this.views.size >= this.viewCacheSize) this.views.delete(this.views.keys().next().value as string)
    this.views.set(key, v)
    return v
  }

  private patternsFor (client: AuthClient): Group | undefined {
    const { username, clientId } = client
    // Without this, a client could pick an id or name that widens its own rules (Mosquitto does the same).
    if (this.patterns.length === 0 || DANGEROUS.test(clientId) || (username !== undefined && DANGEROUS.test(username))) return undefined
    const g = newGroup()
    for (const p of this.patterns) {
      if (p.usesUser && username === undefined) continue
      const topic = p.topic.replace(/%[cu]/g, m => m === '%c' ? clientId : username as string)
      // A rule not written with a leading '$' never matches a '$' topic, whatever it became.
      if (!p.dollar && topic.startsWith('$')) continue
      add(g, p.access, splitLevels(topic))
    }
    return g
  }
}

/** A group's verdict: a matching deny refuses, else a matching grant allows, else it does not decide. */
function verdict (g: Group | undefined, topic: Levels, access: 'read' | 'write'): boolean | undefined {
  if (g === undefined) return undefined
  for (const d of g.deny) if (matchLevels(d, topic)) return false
  for (const a of g[access]) if (matchLevels(a, topic)) return true
  return undefined
}

/** Topic rules, then pattern rules: the first that denies or grants decides; else refused. */
function decide (v: View, topic: Levels, access: 'read' | 'write'): boolean {
  return verdict(v.topic, topic, access) ?? verdict(v.pattern, topic, access) ?? false
}

/** Could some topic matched by `filter` be read? (See decide: a grant counts unless denies cover it.) */
function someReadable (v: View, filter: Levels): boolean {
  const topicDeny = v.topic?.deny ?? []
  for (const a of v.topic?.read ?? []) {
    const i = intersect(filter, a)
    if (i !== null && someTopicOutside(i, topicDeny)) return true
  }
  if (v.pattern === undefined) return false
  const allDeny = [...topicDeny, ...v.pattern.deny]
  for (const a of v.pattern.read) {
    const i = intersect(filter, a)
    if (i !== null && someTopicOutside(i, allDeny)) return true
  }
  return false
}

/** Mosquitto's ACL file as an Authorizer, plus a subscribe check and a per-delivery read check. */
export class AclAuthorizer implements Authorizer {
  private rules: RuleSet
  private readonly trustLocal: boolean
  private readonly viewCacheSize: number

  /** `acl`: a parsed ACL file, or the text of one. */
  constructor (acl: AclFile | string, options: AclAuthorizerOptions = {}) {
    this.trustLocal = options.trustLocal ?? false
    this.viewCacheSize = Math.max(1, options.viewCacheSize ?? 4096)
    this.rules = new RuleSet(typeof acl === 'string' ? parseAclFile(acl) : acl, this.viewCacheSize)
  }

  /**
   * Replace every rule at once (e.g. on SIGHUP after re-reading the ACL file; parse it first, so a
   * bad file throws before anything changes). Existing subscriptions stay; what they deliver from
   * now on follows the new rules, through authorizeRead.
   */
  reload (acl: AclFile | string): void {
    this.rules = new RuleSet(typeof acl === 'string' ? parseAclFile(acl) : acl, this.viewCacheSize)
  }

  private trusted (client: AuthClient): boolean {
    return this.trustLocal && client.kind === 'local'
  }

  /** Write access to `topic`. */
  authorizePublish (client: AuthClient, topic: string, _qos: QoS): boolean {
    if (this.trusted(client)) return true
    return decide(this.rules.view(client), splitLevels(topic), 'write')
  }

  /** Granted (at the requested QoS) when some topic `filter` matches may be read; refused otherwise. */
  authorizeSubscribe (client: AuthClient, filter: string, _qos: QoS): boolean {
    if (this.trusted(client)) return true
    return someReadable(this.rules.view(client), splitLevels(filter))
  }

  /** Read access to `topic`, checked for every message about to be delivered. */
  authorizeRead (client: AuthClient, topic: string): boolean {
    if (this.trusted(client)) return true
    return decide(this.rules.view(client), splitLevels(topic), 'read')
  }
}
