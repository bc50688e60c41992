/**
 * The node's ACL as the broker's Authorizer: the table's rows become a Mosquitto ACL file, parsed
 * and decided by the core's AclAuthorizer (Mosquitto's semantics), on PUBLISH, SUBSCRIBE, every
 * delivery and wills. In-process connection nodes that give no user name are trusted, as the
 * account rule trusts them; one that gives a user name is checked like any client.
 */
import { AccessFileError, AclAuthorizer, type AuthClient, type Authorizer, type QoS } from '../../broker'
import { aclText } from './acl-rows'
import { ConfigError } from './config'
import type { AclRow } from './types'

const trusted = (c: AuthClient): boolean => c.kind === 'local' && c.username === undefined

class NodeAcl implements Authorizer {
  constructor (private readonly acl: AclAuthorizer) {}

  authorizePublish (c: AuthClient, topic: string, qos: QoS): boolean {
    return trusted(c) || this.acl.authorizePublish(c, topic, qos)
  }

  authorizeSubscribe (c: AuthClient, filter: string, qos: QoS): boolean {
    return trusted(c) || this.acl.authorizeSubscribe(c, filter, qos)
  }

  authorizeRead (c: AuthClient, topic: string): boolean {
    return trusted(c) || this.acl.authorizeRead(c, topic)
  }
}

/** The Authorizer for the rows; throws a ConfigError naming the first bad row. */
export function buildAuthorizer (rows: readonly AclRow[]): Authorizer {
  rows.forEach((r, i) => {
    const row = i + 1
    if (/[\r\n]/.test(r.topic) || /[\r\n]/.test(r.user ?? '')) throw new ConfigError({ key: 'bad-acl-row', subs: { row } })
    if (r.who === 'user' && (r.user ?? '').trim() === '') throw new ConfigError({ key: 'acl-no-user', subs: { row } })
    if (r.topic.trim() === '') throw new ConfigError({ key: 'acl-no-topic', subs: { row } })
  })
  const { text, rowOfLine } = aclText(rows)
  try {
    return new NodeAcl(new AclAuthorizer(text))
  } catch (err) {
    if (!(err instanceof AccessFileError)) throw err
    const row = rowOfLine[err.line - 1] ?? 0
    const topic = rows[row - 1]?.topic ?? ''
    throw new ConfigError({ key: err.code === 'ACL_BAD_TOPIC' ? 'acl-bad-topic' : 'bad-acl-row', subs: { row, topic } })
  }
}
