/**
 * Table-driven tests of the password file, the password hashes and the ACL file parsers: what
 * they accept, and the code and line of what they refuse.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  AccessFileError, formatPasswordFile, hashPassword, loadAclFile, loadPasswordFile, parseAclFile, parsePasswordFile,
  parsePasswordHash, verifyPassword, type AccessErrorCode, type AclRule,
} from '../../src/broker/access'

// From Mosquitto's test/broker/09-pwfile-parse-invalid.py: user "test", password "test" ($6$, Mosquitto 1.x format).
const MOSQ_SHA512_TEST = '$6$njERlZMi/7DzNB9E$iiavfuXvUm8iyDZArTy7smTxh07GXXOrOsqxfW6gkOYVXHGk+W+i/8d3xDxrMwEPygEBhoA8A/gjQC0N2M4Lkw=='
const SALT = 'njERlZMi/7DzNB9E'
const DIGEST = 'iiavfuXvUm8iyDZArTy7smTxh07GXXOrOsqxfW6gkOYVXHGk+W+i/8d3xDxrMwEPygEBhoA8A/gjQC0N2M4Lkw=='

function refused (fn: () => unknown, code: AccessErrorCode, line?: number): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AccessFileError, `an AccessFileError, got ${String(e)}`)
    assert.equal(e.code, code)
    if (line !== undefined) assert.equal(e.line, line)
    return true
  })
}

describe('access: password hashes', function () {
  it('verifies the $6$ (SHA-512) hash from Mosquitto\'s own tests, and only for the right password', async function () {
    assert.equal(await verifyPassword('test', MOSQ_SHA512_TEST), true)
    for (const wrong of ['Test', 'test ', '', 'tes', 'testtest']) assert.equal(await verifyPassword(wrong, MOSQ_SHA512_TEST), false, wrong)
  })

  it('writes $7$<iterations>$<12-byte salt>$<64-byte PBKDF2-SHA512> and verifies it; salts differ', async function () {
    const a = await hashPassword('pw', { iterations: 1000 })
    const b = await hashPassword('pw', { iterations: 1000 })
    assert.match(a, /^\$7\$1000\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/)
    assert.notEqual(a, b)
    assert.equal(await verifyPassword('pw', a), true)
    assert.equal(await verifyPassword('pW', a), false)
    const h = parsePasswordHash(a)
    assert.equal(h.type, 'sha512-pbkdf2')
    assert.equal(h.salt.length, 12)
    assert.equal(h.hash.length, 64)
  })

  it('the default iteration count is 210000', async function () {
    this.timeout(30000)
    assert.match(await hashPassword('x'), /^\$7\$210000\$/)
  })

  it('table: malformed hashes are refused with a code', function () {
    const cases: Array<[string, AccessErrorCode]> = [
      ['bad', 'HASH_UNKNOWN_TYPE'], ['$', 'HASH_UNKNOWN_TYPE'], ['$6', 'HASH_MALFORMED'], ['$6$', 'HASH_MALFORMED'],
      [`$6$${SALT}`, 'HASH_MALFORMED'], [`$6$${SALT}$`, 'HASH_BAD_DIGEST'], [`$5$${SALT}$${DIGEST}`, 'HASH_UNKNOWN_TYPE'],
      [`$6$njER{ZMi/7DzNB9E$${DIGEST}`, 'HASH_BAD_SALT'], [`$6$${SALT}$iiavfuXv{}8iyDZArTy7smTxh07GXXOrOsqxfW6gkOYVXHGk+W+i/8d3xDxrMwEPygEBhoA8A/gjQC0N2M4Lkw==`, 'HASH_BAD_DIGEST'],
      [`$6$${SALT}AAAA$${DIGEST}`, 'HASH_BAD_SALT'], [`$6$${SALT}$${DIGEST.slice(4)}`, 'HASH_BAD_DIGEST'],
      [`$7$0$${SALT}$${DIGEST}`, 'HASH_BAD_ITERATIONS'], [`$7$-1$${SALT}$${DIGEST}`, 'HASH_BAD_ITERATIONS'],
      [`$7$101x$${SALT}$${DIGEST}`, 'HASH_BAD_ITERATIONS'], [`$7$99999999$${SALT}$${DIGEST}`, 'HASH_BAD_ITERATIONS'],
      [`$7$${SALT}$${DIGEST}`, 'HASH_MALFORMED'], [`$7$101$${SALT}$${DIGEST}$`, 'HASH_MALFORMED'], [` ${MOSQ_SHA512_TEST}`, 'HASH_UNKNOWN_TYPE'],
    ]
    for (const [text, code] of cases) refused(() => parsePasswordHash(text), code)
    assert.equal(parsePasswordHash(`$7$101$${SALT}$${DIGEST}`).type, 'sha512-pbkdf2')
  })
})

describe('access: password file', function () {
  it('parses user:hash lines, skipping comments and blank lines, trimming blanks, keeping line numbers', function () {
    const text = `# comment\n\n  alice:${MOSQ_SHA512_TEST}  \r\n   # indented comment\nbob : $7$101$${SALT}$${DIGEST}\n\n`
    assert.deepEqual(parsePasswordFile(text), [
      { username: 'alice', hash: MOSQ_SHA512_TEST, line: 3 },
      { username: 'bob', hash: `$7$101$${SALT}$${DIGEST}`, line: 5 },
    ])
    assert.deepEqual(parsePasswordFile(''), [])
    assert.deepEqual(parsePasswordFile('#only a comment'), [])
  })

  it('table: the bad lines of Mosquitto\'s 09-pwfile-parse-invalid test are refused with a code and line number', function () {
    const good = `test:${MOSQ_SHA512_TEST}`
    const cases: Array<[string, AccessErrorCode, string | undefined]> = [
      ['bad:', 'PWFILE_MISSING_HASH', 'bad'], ['bad:bad', 'HASH_UNKNOWN_TYPE', 'bad'], ['bad:$', 'HASH_UNKNOWN_TYPE', 'bad'],
      ['bad:$6', 'HASH_MALFORMED', 'bad'], ['bad:$6$', 'HASH_MALFORMED', 'bad'], [`bad:$6$${SALT}`, 'HASH_MALFORMED', 'bad'],
      [`bad:$6$${SALT}$`, 'HASH_BAD_DIGEST', 'bad'], [`bad:$5$${SALT}$${DIGEST}`, 'HASH_UNKNOWN_TYPE', 'bad'],
      [`:${MOSQ_SHA512_TEST}`, 'PWFILE_EMPTY_USER', undefined], [`bad:$6$njER{ZMi/7DzNB9E$${DIGEST}`, 'HASH_BAD_SALT', 'bad'],
      ['no colon here', 'PWFILE_SYNTAX', undefined], [good, 'PWFILE_DUPLICATE_USER', 'test'],
    ]
    for (const [bad, code, user] of cases) {
      refused(() => parsePasswordFile(`# header\n${good}\n\n${bad}\n`), code, 4)
      assert.throws(() => parsePasswordFile(`${good}\n${bad}`), (e: AccessFileError) => e.user === user && e.line === 2, bad)
    }
  })

  it('formatPasswordFile writes what parsePasswordFile reads', async function () {
    const entries = [{ username: 'a', hash: await hashPassword('1', { iterations: 5 }) }, { username: 'b c', hash: MOSQ_SHA512_TEST }]
    assert.deepEqual(parsePasswordFile(formatPasswordFile(entries)), entries.map((e, i) => ({ ...e, line: i + 1 })))
  })

  it('loadPasswordFile / loadAclFile name the file in errors; an unreadable file is FILE_UNREADABLE', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-access-'))
    try {
      const p = join(dir, 'pw')
      writeFileSync(p, `ok:${MOSQ_SHA512_TEST}\nbroken\n`)
      await assert.rejects(loadPasswordFile(p), (e: AccessFileError) => e.code === 'PWFILE_SYNTAX' && e.line === 2 && e.file === p && e.message.includes(p))
      await assert.rejects(loadPasswordFile(join(dir, 'missing')), (e: AccessFileError) => e.code === 'FILE_UNREADABLE' && e.line === 0)
      const a = join(dir, 'acl')
      writeFileSync(a, 'topic read a\nfoo bar\n')
      await assert.rejects(loadAclFile(a), (e: AccessFileError) => e.code === 'ACL_UNKNOWN_DIRECTIVE' && e.line === 2 && e.file === a)
      writeFileSync(a, 'topic read a\n')
      assert.equal((await loadAclFile(a)).rules.length, 1)
      await assert.rejects(loadAclFile(join(dir, 'missing')), (e: AccessFileError) => e.code === 'FILE_UNREADABLE')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('access: ACL file', function () {
  it('parses the example of mosquitto.conf(5): anonymous block, user blocks, patterns, default readwrite', function () {
    const text = [
      '# This affects access control for clients with no username.',
      'topic read $SYS/#',
      '',
      '# This only affects clients with username "roger".',
      'user roger',
      'topic foo/bar',
      '',
      '# This affects all clients.',
      'pattern write $SYS/broker/connection/%c/state',
    ].join('\n')
    const want: AclRule[] = [
      { type: 'topic', access: 'read', topic: '$SYS/#', line: 2 },
      { type: 'topic', access: 'readwrite', topic: 'foo/bar', user: 'roger', line: 6 },
      { type: 'pattern', access: 'write', topic: '$SYS/broker/connection/%c/state', line: 9 },
    ]
    assert.deepEqual(parseAclFile(text), { rules: want, warnings: [] })
  })

  it('table: access words, topics with spaces after an access word, blanks, tabs, CRLF, user names with spaces', function () {
    const cases: Array<[string, Omit<AclRule, 'line'>]> = [
      ['topic readwrite a/b', { type: 'topic', access: 'readwrite', topic: 'a/b' }],
      ['topic write a/+/c', { type: 'topic', access: 'write', topic: 'a/+/c' }],
      ['topic deny #', { type: 'topic', access: 'deny', topic: '#' }],
      ['topic read my topic/with spaces ', { type: 'topic', access: 'read', topic: 'my topic/with spaces' }],
      ['   topic \t read\t\ta/b\r', { type: 'topic', access: 'read', topic: 'a/b' }],
      ['pattern %u/#', { type: 'pattern', access: 'readwrite', topic: '%u/#' }],
      ['pattern deny devices/%c/secret', { type: 'pattern', access: 'deny', topic: 'devices/%c/secret' }],
    ]
    for (const [line, rule] of cases) assert.deepEqual(parseAclFile(line).rules, [{ ...rule, line: 1 }], line)
    const u = parseAclFile('user  John Smith  \ntopic x\nuser roger\ntopic y\nuser John Smith\ntopic z')
    assert.deepEqual(u.rules.map(r => [r.user, r.topic]), [['John Smith', 'x'], ['roger', 'y'], ['John Smith', 'z']])
  })

  it('warns (without refusing) about "topic read" alone and patterns without %u or %c, as Mosquitto does', function () {
    const f = parseAclFile('topic read\npattern write a/b\npattern read %c/x')
    assert.deepEqual(f.rules[0], { type: 'topic', access: 'readwrite', topic: 'read', line: 1 })
    assert.deepEqual(f.warnings, [{ code: 'ACL_TOPIC_IS_ACCESS_WORD', line: 1 }, { code: 'ACL_PATTERN_NO_SUBSTITUTION', line: 2 }])
  })

  it('table: bad lines are refused with a code and their line number', function () {
    const cases: Array<[string, AccessErrorCode]> = [
      ['topic', 'ACL_MISSING_TOPIC'], ['pattern   ', 'ACL_MISSING_TOPIC'], ['topic reed a/b', 'ACL_BAD_ACCESS'],
      ['topic a b', 'ACL_BAD_ACCESS'], ['topic READ a', 'ACL_BAD_ACCESS'], ['topic read a/#/b', 'ACL_BAD_TOPIC'],
      ['topic read a+', 'ACL_BAD_TOPIC'], ['pattern write %u#', 'ACL_BAD_TOPIC'], ['user', 'ACL_MISSING_USER'],
      ['user   ', 'ACL_MISSING_USER'], ['Topic read a', 'ACL_UNKNOWN_DIRECTIVE'], ['topicread a', 'ACL_UNKNOWN_DIRECTIVE'],
      ['allow a', 'ACL_UNKNOWN_DIRECTIVE'],
    ]
    for (const [bad, code] of cases) refused(() => parseAclFile(`# ok\ntopic read x\n\n${bad}\ntopic y`), code, 4)
  })
})
