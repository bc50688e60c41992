/**
 * The shared Authenticator / Authorizer suites run against src/broker/access: PasswordAuthenticator
 * over $7$ and $6$ hashes and plain accounts, and AclAuthorizer over a household ACL.
 */
import { createHash } from 'node:crypto'
import { AclAuthorizer, PasswordAuthenticator, hashPassword, type PasswordEntry } from '../../src/broker/access'
import type { AuthClient } from '../../src/broker/auth'
import { authenticatorSuite, authorizerSuite, request } from './auth.suite'

const net = (clientId: string, username?: string): AuthClient => ({ clientId, username, kind: 'network' })

/** $6$ as Mosquitto 1.x wrote it: base64(12-byte salt) $ base64(SHA-512(password ‖ salt)). */
function sha512Entry (username: string, password: string): PasswordEntry {
  const salt = Buffer.from('0123456789ab')
  const hash = createHash('sha512').update(password).update(salt).digest()
  return { username, hash: `$6$${salt.toString('base64')}$${hash.toString('base64')}` }
}

let entries: Promise<PasswordEntry[]> | undefined
/** Built once: $7$ hashes at a low iteration count keep the suite fast (the count does not change the logic). */
const fileEntries = (): Promise<PasswordEntry[]> => (entries ??= (async () => [
  { username: 'alice', hash: await hashPassword('s3cret', { iterations: 1000 }) },
  { username: 'bob', hash: await hashPassword('ünïcødé ✓', { iterations: 1000 }) },
  { username: 'emptyhash', hash: await hashPassword('', { iterations: 1000 }) },
  sha512Entry('legacy', 'old pw'),
])())

authenticatorSuite('PasswordAuthenticator: password file ($7$, $6$) and plain users, no anonymous', async () => ({
  authenticator: new PasswordAuthenticator({ passwordFile: await fileEntries(), users: { carol: 'plain pw', empty: '' } }),
  accept: [
    request({ username: 'alice', password: 's3cret' }),
    request({ username: 'bob', password: 'ünïcødé ✓' }),
    request({ username: 'legacy', password: 'old pw' }),
    request({ username: 'carol', password: 'plain pw' }),
    request({ username: 'empty', password: '' }),
    request({ username: 'empty' }),
    request({ username: 'alice', password: 's3cret', kind: 'local', protocolVersion: 4 }),
  ],
  refuse: [
    { request: request({ username: 'alice', password: 'wrong' }), reasonCode: 0x86 },
    { request: request({ username: 'alice', password: 's3cret ' }), reasonCode: 0x86 },
    { request: request({ username: 'alice' }), reasonCode: 0x86 },
    { request: request({ username: 'Alice', password: 's3cret' }), reasonCode: 0x86 },
    { request: request({ username: 'legacy', password: 'old PW' }), reasonCode: 0x86 },
    { request: request({ username: 'carol', password: 's3cret' }), reasonCode: 0x86 },
    // as Mosquitto: a hashed account is never matched by an absent or empty password
    { request: request({ username: 'emptyhash', password: '' }), reasonCode: 0x86 },
    { request: request({ username: 'emptyhash' }), reasonCode: 0x86 },
    { request: request({ username: 'mallory', password: 's3cret' }), reasonCode: 0x86 },
    { request: request({ username: '__proto__', password: '' }), reasonCode: 0x86 },
    { request: request(), reasonCode: 0x87 },
  ],
}))

authenticatorSuite('PasswordAuthenticator: anonymous allowed, trusting local clients', async () => ({
  authenticator: new PasswordAuthenticator({ passwordFile: await fileEntries() }, { allowAnonymous: true, trustLocal: true }),
  accept: [request(), request({ kind: 'local' }), request({ username: 'alice', password: 's3cret' })],
  refuse: [
    { request: request({ username: 'alice', password: 'x' }), reasonCode: 0x86 },
    { request: request({ username: 'nobody', password: 'x', kind: 'local' }), reasonCode: 0x86 },
  ],
}))

authenticatorSuite('PasswordAuthenticator with no account, anonymous refused: every network client is refused as anonymous', () => ({
  authenticator: new PasswordAuthenticator({}, { allowAnonymous: false, trustLocal: true }),
  accept: [request({ kind: 'local' })],
  refuse: [
    { request: request(), reasonCode: 0x87 },
    { request: request({ username: 'DVES_USER', password: 'DVES_PASS' }), reasonCode: 0x87 },
  ],
}))

authenticatorSuite('PasswordAuthenticator with no account, anonymous allowed: credentials are not checked', () => ({
  authenticator: new PasswordAuthenticator({ passwordFile: [], users: {} }, true),
  accept: [request(), request({ username: 'DVES_USER', password: 'DVES_PASS' })],
  refuse: [],
}))

/** A household: plugs write only their own topics, the door lock is Home Assistant's alone. */
export const HOUSEHOLD_ACL = `
# anonymous clients may read the weather
topic read weather/#

user homeassistant
topic readwrite home/#
topic readwrite lock/#
topic read $SYS/#

user dashboard
topic read home/#
topic deny home/+/secret

# every plug (user name = its id) writes its own state and reads its own commands
pattern write home/plug/%u/state
pattern read home/plug/%u/set
pattern deny lock/#
`

const acl = (): AclAuthorizer => new AclAuthorizer(HOUSEHOLD_ACL)
const ha = net('ha', 'homeassistant')
const dash = net('d1', 'dashboard')
const plug = net('p1', 'plug1')
const anon = net('anon')

authorizerSuite('AclAuthorizer (household ACL)', () => ({
  authorizer: acl(),
  allowPublish: [[ha, 'home/plug/plug1/set', 1], [ha, 'lock/front/set', 1], [plug, 'home/plug/plug1/state', 0]],
  denyPublish: [
    [plug, 'home/plug/plug2/state', 0], [plug, 'lock/front/set', 1], [dash, 'home/x', 0], [anon, 'weather/now', 0],
    [ha, '$SYS/broker/x', 0], [net('evil', 'plug+'), 'home/plug/plug+/state', 0],
  ],
  allowSubscribe: [
    [ha, '#', 2], [ha, '$SYS/#', 1], [plug, 'home/plug/plug1/set', 1], [plug, '#', 1], [dash, 'home/#', 2],
    [dash, 'home/+/temp', 1], [anon, 'weather/+', 0],
  ],
  denySubscribe: [
    [plug, 'home/plug/plug2/#', 1], [plug, 'lock/#', 1], [dash, 'home/kitchen/secret', 1], [dash, '+/+/secret', 0],
    [anon, 'home/#', 0], [ha, '$SYS2/#', 0], [dash, '$SYS/#', 0], [net('evil', 'plug#'), 'home/plug/#', 0],
  ],
  allowRead: [[ha, 'lock/front/state'], [ha, '$SYS/broker/uptime'], [dash, 'home/kitchen/temp'], [plug, 'home/plug/plug1/set'], [anon, 'weather/now']],
  denyRead: [
    [dash, 'home/kitchen/secret'], [dash, 'lock/front/state'], [plug, 'home/plug/plug2/set'], [plug, 'home/plug/plug1/state'],
    [anon, 'home/plug/plug1/set'], [ha, '$SYS2/x'], [ha, 'weather/now'],
  ],
}))

authorizerSuite('AclAuthorizer (empty ACL: everything refused, as Mosquitto)', () => ({
  authorizer: new AclAuthorizer('# nothing\n\n', { trustLocal: true }),
  allowPublish: [[{ clientId: 'flow', kind: 'local' }, 'any/topic', 1]],
  denyPublish: [[anon, 'a', 0], [ha, 'home/x', 1]],
  allowSubscribe: [[{ clientId: 'flow', kind: 'local' }, '#', 2]],
  denySubscribe: [[anon, '#', 0], [ha, 'home/#', 1]],
  allowRead: [[{ clientId: 'flow', kind: 'local' }, 'a']],
  denyRead: [[anon, 'a'], [ha, 'home/x']],
}))
