/**
 * Topic rules for the nodes, runtime and editor alike: the broker core's own rules
 * (src/broker/topics.ts, which uses no Node.js API, so the editor bundle can carry it),
 * with type guards for values that come from messages and forms.
 */
import { matchTopic, parseShared, validTopicFilter, validTopicName } from '../../broker/topics'

/** Is `topic` a valid topic name to publish to? */
export function isValidTopicName (topic: unknown): topic is string {
  return typeof topic === 'string' && validTopicName(topic)
}

/** Is `filter` a valid subscription topic filter (wildcards and `$share/<group>/<filter>` allowed)? */
export function isValidTopicFilter (filter: unknown): filter is string {
  if (typeof filter !== 'string') return false
  const shared = parseShared(filter)
  return shared === null ? validTopicFilter(filter) : shared !== false
}

/** Does `topic` match `filter` (a `$share/group/` prefix ignored)? */
export const topicMatches = matchTopic
