// The subscription trie (src/broker/topic-tree.ts) on its own: counts, replace/remove results,
// pruning, the $ rule per level, and the shared-group round robin. Written against surviving
// mutants (docs/mutation.md): each assertion states a whole result, not a chosen part.
import assert from 'node:assert/strict'
import { TopicTree, type Subscription } from '../../src/broker/topic-tree'
import type { Session } from '../../src/broker/session'

function session (name: string, connected = true): Session {
  return { clientId: name, client: connected ? {} : null } as unknown as Session
}

function sub (s: Session, filter: string, group?: string, qos: 0 | 1 | 2 = 0): Subscription {
  return { session: s, filter, key: group === undefined ? filter : `$share/${group}/${filter}`, qos, nl: false, rap: false, rh: 0, subId: undefined, group }
}

/** Client ids of the sessions the trie visits for `topic`, in visiting order. */
function visited (tree: TopicTree, topic: string): string[] {
  const out: string[] = []
  tree.match(topic, x => { out.push(`${x.session.clientId}:${x.key}`) })
  return out
}

/** The trie's root node, to check that removed subscriptions leave no node behind. */
function rootChildren (tree: TopicTree): number {
  const root = (tree as unknown as { root: { children: Map<string, unknown> | null } }).root
  return root.children === null ? 0 : root.children.size
}

describe('unit: subscription trie', function () {
  it('add returns whether it replaced a subscription; size counts subscriptions, not replacements', function () {
    const tree = new TopicTree()
    const a = session('a')
    const b = session('b')
    assert.deepEqual([tree.add(sub(a, 'x/y')), tree.size], [false, 1])
    assert.deepEqual([tree.add(sub(a, 'x/y', undefined, 2)), tree.size], [true, 1])
    assert.deepEqual([tree.add(sub(b, 'x/y')), tree.size], [false, 2])
    assert.deepEqual([tree.add(sub(a, 'x/y', 'g')), tree.size], [false, 3])
    assert.deepEqual([tree.add(sub(a, 'x/y', 'g', 1)), tree.size], [true, 3])
    assert.deepEqual([tree.add(sub(b, 'x/y', 'g')), tree.size], [false, 4])
    assert.deepEqual([tree.add(sub(a, 'x/y', 'h')), tree.size], [false, 5])
    // the replacements are the ones routed: a's own subscription, then its groups g and h
    const qos: number[] = []
    tree.match('x/y', x => { if (x.session === a) qos.push(x.qos) })
    assert.deepEqual(qos, [2, 1, 0])
  })

  it('remove returns whether the subscription existed and prunes every node it emptied', function () {
    const tree = new TopicTree()
    const a = session('a')
    const b = session('b')
    tree.add(sub(a, 'p/q/r'))
    tree.add(sub(b, 'p/q'))
    tree.add(sub(a, 'p/q', 'g'))
    assert.equal(tree.remove(sub(a, 'p/q/r/s')), false, 'no node')
    assert.equal(tree.remove(sub(a, 'zz')), false, 'no node at the first level')
    assert.equal(tree.remove(sub(a, 'p/q')), false, 'node without that session')
    assert.equal(tree.remove(sub(a, 'p/q', 'other')), false, 'no such group')
    assert.equal(tree.remove(sub(b, 'p/q', 'g')), false, 'group without that session')
    assert.equal(tree.remove(sub(a, 'p/q/r', 'g')), false, 'node without groups')
    assert.equal(tree.size, 3)
    assert.equal(tree.remove(sub(a, 'p/q/r')), true)
    assert.deepEqual([tree.size, visited(tree, 'p/q/r')], [2, []])
    assert.equal(tree.remove(sub(a, 'p/q/r')), false, 'already removed')
    assert.equal(tree.remove(sub(b, 'p/q')), true)
    assert.deepEqual([tree.size, rootChildren(tree)], [1, 1], 'p/q still holds the shared group')
    assert.equal(tree.remove(sub(a, 'p/q', 'g')), true)
    assert.deepEqual([tree.size, rootChildren(tree), visited(tree, 'p/q')], [0, 0, []])
  })

  it('sharedSize counts the members of every group through add, replace and remove; removing a plain subscription from a node without any is a no-op', function () {
    const tree = new TopicTree()
    const a = session('a')
    const b = session('b')
    tree.add(sub(a, 'p/q', 'g'))
    tree.add(sub(b, 'p/q', 'g'))
    tree.add(sub(a, 'p/q', 'g', 1))
    tree.add(sub(a, 'p', 'h'))
    tree.add(sub(a, 'p/q/r'))
    assert.deepEqual([tree.size, tree.sharedSize], [4, 3])
    // 'p' and 'p/q' are nodes with groups (and children) but no plain subscription
    assert.deepEqual([tree.remove(sub(a, 'p')), tree.remove(sub(a, 'p/q')), tree.size, tree.sharedSize], [false, false, 4, 3])
    assert.deepEqual([tree.remove(sub(a, 'p/q', 'g')), tree.size, tree.sharedSize], [true, 3, 2])
    assert.deepEqual([tree.remove(sub(a, 'p/q', 'g')), tree.size, tree.sharedSize], [false, 3, 2])
    assert.deepEqual([tree.remove(sub(b, 'p/q', 'g')), tree.remove(sub(a, 'p', 'h')), tree.size, tree.sharedSize], [true, true, 1, 0])
    assert.deepEqual(visited(tree, 'p/q/r'), ['a:p/q/r'])
  })

  it('a node that still has children, subscriptions or groups is not pruned', function () {
    const tree = new TopicTree()
    const a = session('a')
    tree.add(sub(a, 'k'))
    tree.add(sub(a, 'k/l'))
    tree.add(sub(a, 'm', 'g'))
    tree.add(sub(a, 'm/n'))
    assert.equal(tree.remove(sub(a, 'k')), true)
    assert.deepEqual(visited(tree, 'k/l'), ['a:k/l'])
    assert.equal(tree.remove(sub(a, 'm/n')), true)
    assert.deepEqual(visited(tree, 'm'), ['a:$share/g/m'])
    assert.equal(rootChildren(tree), 2)
  })

  it('[MQTT-4.7.2-1] a $ topic is not matched by a wildcard at the first level, only there', function () {
    const tree = new TopicTree()
    const a = session('a')
    for (const f of ['#', '+/x', '$SYS/#', '$SYS/+', 'a/+', 'a/#', '+/+']) tree.add(sub(a, f))
    assert.deepEqual(visited(tree, '$SYS/x'), ['a:$SYS/+', 'a:$SYS/#'])
    assert.deepEqual(visited(tree, 'a/$x'), ['a:a/+', 'a:a/#', 'a:+/+', 'a:#'])
    assert.deepEqual(visited(tree, 'a'), ['a:a/#', 'a:#'])
  })

  it('a shared group takes turns among its members, skipping members whose client is away', function () {
    const tree = new TopicTree()
    const [a, b, c] = [session('a'), session('b'), session('c')]
    for (const s of [a, b, c]) tree.add(sub(s, 't', 'g'))
    const picks = (n: number): string[] => Array.from({ length: n }, () => visited(tree, 't')[0].split(':')[0])
    assert.deepEqual(picks(4), ['a', 'b', 'c', 'a'])
    ;(b as { client: unknown }).client = null
    assert.deepEqual(picks(3), ['c', 'a', 'c'])
    ;(a as { client: unknown }).client = null
    ;(c as { client: unknown }).client = null
    // nobody connected: still round robin, over everyone (their sessions queue the message)
    assert.deepEqual(picks(4), ['a', 'b', 'c', 'a'])
  })

  it('removing a member before the turn keeps the turn on the member that was next', function () {
    const tree = new TopicTree()
    const [a, b, c, d] = [session('a'), session('b'), session('c'), session('d')]
    for (const s of [a, b, c, d]) tree.add(sub(s, 't', 'g'))
    const pick = (): string => visited(tree, 't')[0].split(':')[0]
    assert.deepEqual([pick(), pick()], ['a', 'b'])
    tree.remove(sub(a, 't', 'g')) // before the turn (c): the turn stays on c
    assert.equal(pick(), 'c')
    tree.remove(sub(d, 't', 'g')) // it is d's turn: the next one after d is b
    assert.equal(pick(), 'b')
    tree.add(sub(a, 't', 'g'))
    tree.remove(sub(c, 't', 'g')) // [b, a], turn on a (index 1 before c's removal at 1)
    assert.deepEqual([pick(), pick(), pick()], ['a', 'b', 'a'])
  })
})
