/**
 * AclAuthorizer, table-driven: Mosquitto 2.0's ACL semantics (the cases of its
 * test/broker/09-acl-access-variants.py and mosquitto.conf(5)), plus Hearth's subscribe check,
 * the read check and reload. test/access/mosquitto.spec.ts checks the same answers against a
 * real Mosquitto.
 */
import assert from 'node:assert/strict'
import { AclAuthorizer, parseAclFile } from '../../src/broker/access'
import type { AuthClient } from '../../src/broker/auth'

const c = (clientId: string, username?: string): AuthClient => ({ clientId, username, kind: 'network' })
type Check = ['pub' | 'read' | 'sub', AuthClient, string, boolean]

function run (acl: AclAuthorizer, checks: Check[]): void {
  for (const [what, client, topic, want] of checks) {
    const got = what === 'pub' ? acl.authorizePublish(client, topic, 0) : what === 'read' ? acl.authorizeRead(client, topic) : acl.authorizeSubscribe(client, topic, 1)
    assert.equal(got, want, `${what} ${topic} by ${client.clientId}/${client.username ?? '(anonymous)'}`)
  }
}

describe('access: AclAuthorizer semantics', function () {
  describe("Mosquitto's 09-acl-access-variants (a client publishing to its own subscription: delivered = write and read)", function () {
    const GLOBAL = 'topic readwrite topic/global/#\ntopic deny      topic/global/except\n'
    const USER = 'user username\ntopic readwrite topic/username/#\ntopic deny      topic/username/except\n'
    const PATTERN = 'pattern readwrite pattern/%u/#\npattern deny      pattern/%u/except\n'
    const delivered = (a: AclAuthorizer, username: string | undefined, topic: string): boolean =>
      a.authorizePublish(c('acl-check', username), topic, 1) && a.authorizeRead(c('acl-check', username), topic)
    for (const [g, u, p] of [[false, false, true], [false, true, false], [true, false, false], [false, true, true], [true, false, true], [true, true, true]]) {
      it(`global ${g ? 'on' : 'off'}, user ${u ? 'on' : 'off'}, pattern ${p ? 'on' : 'off'}`, function () {
        const a = new AclAuthorizer((g ? GLOBAL : '') + (u ? USER : '') + (p ? PATTERN : ''))
        const cases: Array<[string | undefined, string, boolean]> = []
        if (g) cases.push([undefined, 'topic/global', true], ['username', 'topic/global', false], [undefined, 'topic/global/except', false])
        if (u) cases.push([undefined, 'topic/username', false], ['username', 'topic/username', true], ['username', 'topic/username/except', false])
        if (p) cases.push([undefined, 'pattern/username', false], ['username', 'pattern/username', true], ['username', 'pattern/username/except', false])
        for (const [user, topic, want] of cases) assert.equal(delivered(a, user, topic), want, `${user ?? '(anonymous)'} ${topic}`)
      })
    }
  })

  it('an empty ACL (comments only) refuses everything (09-acl-empty-file)', function () {
    run(new AclAuthorizer('#comment\n\n'), [['pub', c('acl-check'), 'test/topic', false], ['read', c('acl-check'), 'test/topic', false], ['sub', c('x', 'u'), '#', false]])
  })

  it('read, write and readwrite grant what they say', function () {
    const a = new AclAuthorizer('topic read r/#\ntopic write w/#\ntopic readwrite rw/#\ntopic rw2/#')
    const x = c('x')
    run(a, [
      ['read', x, 'r/1', true], ['pub', x, 'r/1', false], ['read', x, 'w/1', false], ['pub', x, 'w/1', true],
      ['read', x, 'rw/1', true], ['pub', x, 'rw/1', true], ['read', x, 'rw2/1', true], ['pub', x, 'rw2/1', true],
      ['read', x, 'other', false], ['pub', x, 'other', false], ['sub', x, 'w/#', false], ['sub', x, 'r/#', true],
    ])
  })

  it('rules before the first "user" line are for anonymous clients only; a user without a block gets patterns only', function () {
    const a = new AclAuthorizer('topic anon/#\nuser alice\ntopic alice/#\npattern read all/%c')
    run(a, [
      ['pub', c('x'), 'anon/1', true], ['pub', c('x', 'alice'), 'anon/1', false], ['pub', c('x', 'bob'), 'anon/1', false],
      ['pub', c('x', 'alice'), 'alice/1', true], ['pub', c('x'), 'alice/1', false],
      ['read', c('x', 'bob'), 'all/x', true], ['read', c('x'), 'all/x', true], ['read', c('x', 'bob'), 'all/y', false],
      ['pub', c('x', ''), 'anon/1', false], // an empty user name is a user name, not anonymous (as Mosquitto)
    ])
  })

  it('a "user" block may be split; rules add up', function () {
    run(new AclAuthorizer('user a\ntopic one\nuser b\ntopic two\nuser a\ntopic three'), [
      ['pub', c('x', 'a'), 'one', true], ['pub', c('x', 'a'), 'three', true], ['pub', c('x', 'a'), 'two', false], ['pub', c('x', 'b'), 'three', false],
    ])
  })

  it('deny wins over grants of the same kind wherever it stands; a topic deny also beats a pattern grant', function () {
    const a = new AclAuthorizer('user u\ntopic readwrite a/#\ntopic deny a/secret\ntopic deny p/u/x\npattern readwrite p/%u/#\npattern deny p/%u/y')
    const u = c('x', 'u')
    run(a, [
      ['pub', u, 'a/1', true], ['pub', u, 'a/secret', false], ['read', u, 'a/secret', false],
      ['pub', u, 'p/u/1', true], ['pub', u, 'p/u/x', false], ['pub', u, 'p/u/y', false],
    ])
  })

  it("as Mosquitto 2.0: a user's topic grant is decided before the patterns, so a pattern deny does not take it back", function () {
    run(new AclAuthorizer('user u\ntopic readwrite lock/#\npattern deny lock/#'), [['pub', c('x', 'u'), 'lock/door', true], ['pub', c('x', 'v'), 'lock/door', false]])
  })

  it('%u and %c are replaced by the user name and client id; %u patterns skip clients without a user name', function () {
    const a = new AclAuthorizer('pattern write dev/%u/%c/state\npattern read cmd/%c\npattern read mixed-%c/x')
    run(a, [
      ['pub', c('kitchen', 'plug'), 'dev/plug/kitchen/state', true], ['pub', c('kitchen', 'plug'), 'dev/plug/hall/state', false],
      ['pub', c('kitchen'), 'dev//kitchen/state', false], ['pub', c('kitchen'), 'dev/undefined/kitchen/state', false], ['pub', c('kitchen'), 'dev/%u/kitchen/state', false],
      ['read', c('kitchen'), 'cmd/kitchen', true], ['read', c('kitchen', 'p'), 'cmd/hall', false],
      ['read', c('a/b'), 'cmd/a/b', true], // a '/' in the client id adds a level, as in Mosquitto
      ['read', c('k'), 'mixed-k/x', true],
    ])
  })

  it("a client whose user name or client id contains '+' or '#' gets no pattern rules, but keeps its topic rules", function () {
    const a = new AclAuthorizer('user plug+\ntopic own/#\npattern readwrite dev/%u/#\npattern readwrite id/%c/#')
    run(a, [
      ['pub', c('ok', 'plug+'), 'dev/plug+/x', false], ['pub', c('ok', 'plug+'), 'own/x', true], ['pub', c('ok', 'plug#'), 'dev/a/x', false],
      ['pub', c('id+', 'u'), 'id/id+/x', false], ['pub', c('id+', 'u'), 'dev/u/x', false], ['pub', c('id', 'u'), 'dev/u/x', true],
      ['sub', c('ok', '#'), 'dev/#', false],
    ])
  })

  it("'$' topics are matched only by rules written with a leading '$'", function () {
    const a = new AclAuthorizer('topic readwrite #\ntopic read $SYS/broker/#\ntopic deny +/secret\npattern read %c/#')
    const x = c('$SYS')
    run(a, [
      ['read', c('x'), '$SYS/broker/load', true], ['read', c('x'), '$SYS/other', false], ['pub', c('x'), '$SYS/broker/load', false],
      ['read', c('x'), '$foo/secret', false], ['pub', c('x'), 'a/secret', false], ['read', c('x'), 'a/b', true],
      ['read', x, '$SYS/other', false], // the pattern became "$SYS/#" for this client id, but was not written with '$'
      ['sub', c('x'), '#', true], ['sub', c('x'), '$SYS/#', true], ['sub', c('x'), '$SYS/other/#', false], ['sub', c('x'), '+/broker/#', true],
    ])
  })

  it('SUBSCRIBE: granted when some topic under the filter may be read, refused when none may (denies included)', function () {
    const a = new AclAuthorizer('user u\ntopic read home/+/temp\ntopic read home/#\ntopic deny home/lock/#\ntopic deny home/+/secret\ntopic write out/#')
    const u = c('x', 'u')
    run(a, [
      ['sub', u, 'home/#', true], ['sub', u, '#', true], ['sub', u, '+/+/temp', true], ['sub', u, 'home/lock/#', false],
      ['sub', u, 'home/lock/+', false], ['sub', u, 'home/lock', false], ['sub', u, '+/lock/#', false], ['sub', u, 'home/+/secret', false],
      ['sub', u, 'home/kitchen/secret', false], ['sub', u, 'home/kitchen/+', true], ['sub', u, 'out/#', false], ['sub', u, 'away/#', false],
    ])
  })

  it('read check: "home/#" granted with only "home/+/temp" readable delivers the temperatures and nothing else', function () {
    const a = new AclAuthorizer('user u\ntopic read home/+/temp')
    const u = c('x', 'u')
    run(a, [
      ['sub', u, 'home/#', true], ['read', u, 'home/kitchen/temp', true], ['read', u, 'home/hall/temp', true],
      ['read', u, 'home/kitchen/humidity', false], ['read', u, 'home/kitchen/temp/raw', false], ['read', u, 'home', false],
    ])
  })

  it('trustLocal lets in-process clients do everything; otherwise they follow the ACL', function () {
    const local: AuthClient = { clientId: 'flow', kind: 'local' }
    run(new AclAuthorizer('topic read a', { trustLocal: true }), [['pub', local, 'x', true], ['read', local, 'x', true], ['sub', local, '#', true]])
    run(new AclAuthorizer('topic read a'), [['pub', local, 'x', false], ['read', local, 'a', true], ['sub', local, '#', true], ['sub', local, 'b', false]])
  })

  it('reload() swaps every rule at once, including rules already resolved for a connected client', function () {
    const a = new AclAuthorizer('user u\ntopic readwrite topic/one\ntopic readwrite topic/two\npattern read p/%c')
    const u = c('acl-check', 'u')
    run(a, [['read', u, 'topic/two', true], ['read', u, 'p/acl-check', true]])
    a.reload(parseAclFile('user u\ntopic readwrite topic/one'))
    run(a, [['read', u, 'topic/one', true], ['read', u, 'topic/two', false], ['pub', u, 'topic/two', false], ['read', u, 'p/acl-check', false]])
    a.reload('user u\ntopic readwrite topic/two')
    run(a, [['read', u, 'topic/one', false], ['read', u, 'topic/two', true]])
    assert.throws(() => a.reload('user u\ntopic readwrite a/#/b'), { code: 'ACL_BAD_TOPIC', line: 2 })
    run(a, [['read', u, 'topic/two', true]]) // a bad file leaves the rules as they were
  })

  it('the household example of the user documentation (docs/access.md) does what the text says', function () {
    const a = new AclAuthorizer(`# anonymous clients (no user name): the weather only
topic read weather/#

user homeassistant
topic readwrite home/#
topic readwrite lock/#
topic readwrite weather/#

user dashboard
topic read home/#
topic read weather/#

# every plug: publish its own state and telemetry, read its own commands
pattern write home/plug/%u/state
pattern write home/plug/%u/telemetry
pattern read  home/plug/%u/set
# nobody but Home Assistant touches the lock, even by a pattern added later
pattern deny  lock/#
`)
    const plug = c('p1', 'plug-kitchen')
    const dash = c('d', 'dashboard')
    const ha = c('ha', 'homeassistant')
    const evil = c('p2', 'plug+')
    run(a, [
      ['pub', plug, 'home/plug/plug-kitchen/state', true], ['pub', plug, 'home/plug/plug-tv/state', false],
      ['pub', plug, 'home/plug/plug-kitchen/set', false], ['pub', plug, 'lock/front/set', false],
      ['sub', plug, '#', true], ['read', plug, 'home/plug/plug-kitchen/set', true], ['read', plug, 'home/plug/plug-tv/set', false],
      ['read', plug, 'weather/now', false], ['read', plug, 'home/kitchen/temp', false], ['sub', plug, 'lock/#', false],
      ['read', dash, 'home/kitchen/temp', true], ['read', dash, 'weather/now', true], ['sub', dash, 'lock/#', false],
      ['pub', dash, 'home/kitchen/temp', false], ['read', dash, 'lock/front/state', false],
      ['pub', ha, 'lock/front/set', true], ['read', ha, 'lock/front/state', true],
      ['sub', evil, '#', false], ['pub', evil, 'home/plug/plug+/state', false], ['read', c('anon'), 'weather/now', true], ['pub', c('anon'), 'weather/now', false],
    ])
  })

  it('answers stay right past the resolved-client cache bound', function () {
    const a = new AclAuthorizer('pattern read dev/%c', { viewCacheSize: 2 })
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 10; i++) {
        assert.equal(a.authorizeRead(c(`d${i}`), `dev/d${i}`), true)
        assert.equal(a.authorizeRead(c(`d${i}`), `dev/d${(i + 1) % 10}`), false)
      }
    }
  })
})
