// Interop: the Eclipse Mosquitto command line clients (Debian package mosquitto-clients)
// against the broker, on MQTT 3.1.1 (-V mqttv311) and MQTT 5.0 (-V mqttv5).
// Every mosquitto_sub runs with -W so nothing can hang; every process is killed in afterEach.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Child, Children, exitOf, requireTool, sleep, startTarget, TARGET, type Target, uniq } from './helpers'

type Version = 'mqttv311' | 'mqttv5'

/** One line per received message; %x = payload as hex so binary payloads compare exactly. */
const FORMAT = 'MSG|%t|%q|%r|%x|C=%C|D=%D|E=%E|F=%F|R=%R|P=%P|S=%S'

interface SubMsg {
  topic: string, qos: number, retain: boolean, payload: Buffer
  contentType: string, correlationData: string, expiry: string, payloadFormat: string
  responseTopic: string, userProperties: string, subscriptionId: string
}

function parseSubOutput (out: string): SubMsg[] {
  const msgs: SubMsg[] = []
  for (const line of out.split('\n')) {
    if (!line.startsWith('MSG|')) continue
    const f = line.split('|')
    const prop = (i: number, key: string): string => {
      const v = f[i] ?? ''
      if (!v.startsWith(`${key}=`)) throw new Error(`unexpected mosquitto_sub output field ${i}: ${line}`)
      return v.slice(key.length + 1)
    }
    msgs.push({
      topic: f[1] ?? '',
      qos: Number(f[2]),
      retain: f[3] === '1',
      payload: Buffer.from(f[4] ?? '', 'hex'),
      contentType: prop(5, 'C'),
      correlationData: prop(6, 'D'),
      expiry: prop(7, 'E'),
      payloadFormat: prop(8, 'F'),
      responseTopic: prop(9, 'R'),
      userProperties: prop(10, 'P'),
      subscriptionId: prop(11, 'S'),
    })
  }
  return msgs
}

describe(`interop: mosquitto_pub / mosquitto_sub vs ${TARGET} broker`, function () {
  this.timeout(30000)
  const children = new Children()
  let target: Target | undefined
  let tmp: string | undefined
  let PUB = ''
  let SUB = ''
  let STDBUF = ''

  beforeEach(async function () {
    // A missing client FAILS (hook failure), naming the package, rather than skipping.
    PUB = requireTool('mosquitto_pub')
    SUB = requireTool('mosquitto_sub')
    STDBUF = requireTool('stdbuf') // mosquitto_sub block-buffers stdout into a pipe; -oL makes it line-buffered
    target = await startTarget(children)
    tmp = mkdtempSync(join(tmpdir(), 'hearth-interop-mosqc-'))
  })

  afterEach(async function () {
    await children.killAll() // clients first, so the broker is not closed under live clients' feet
    if (target !== undefined) await target.stop().catch(() => undefined)
    target = undefined
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true })
    tmp = undefined
  })

  const conn = (): string[] => {
    if (target === undefined) throw new Error('broker not started')
    return ['-h', target.host, '-p', String(target.port)]
  }

  /** Starts mosquitto_sub and resolves once its SUBACK arrived; returns the child and the granted QoS list. */
  async function sub (v: Version, topics: string[], args: string[], waitSeconds = 10): Promise<{ child: Child, granted: number[] }> {
    const child = children.spawn(STDBUF, ['-oL', SUB, ...conn(), '-V', v, '-d', '-F', FORMAT, '-W', String(waitSeconds),
      ...topics.flatMap(t => ['-t', t]), ...args])
    const m = await child.waitOut(/Subscribed \(mid: \d+\): ([0-9, ]+)/, 8000)
    return { child, granted: (m[1] ?? '').split(',').map(s => Number(s.trim())) }
  }

  /** Runs mosquitto_pub to completion; asserts exit code 0. */
  async function pub (v: Version, args: string[]): Promise<Child> {
    const child = children.spawn(PUB, [...conn(), '-V', v, ...args])
    const { code } = await exitOf(child, 10000)
    assert.equal(code, 0, `mosquitto_pub failed: ${child.describe()}`)
    return child
  }

  /** Waits for mosquitto_sub to exit after -C N messages; asserts it did not time out (-W gives exit 27). */
  async function subDone (child: Child): Promise<SubMsg[]> {
    const { code } = await exitOf(child, 15000)
    assert.equal(code, 0, `mosquitto_sub did not get all its messages: ${child.describe()}`)
    return parseSubOutput(child.out)
  }

  const file = (name: string, data: Buffer): string => {
    if (tmp === undefined) throw new Error('no temp dir')
    const p = join(tmp, name)
    writeFileSync(p, data)
    return p
  }

  for (const v of ['mqttv311', 'mqttv5'] as const) {
    describe(`-V ${v}`, function () {
      for (const qos of [0, 1, 2] as const) {
        it(`QoS ${qos}: sub -C receives exactly what pub sends, in order, payload intact [MQTT-3.3.4-1] [MQTT-4.6.0-5]`, async function () {
          const topic = uniq(`mosq/qos${qos}`)
          const binary = randomBytes(4096)
          const sent: Buffer[] = [Buffer.from('plain text'), Buffer.from('ünïcödé ✓'), binary, Buffer.from('END')]
          const { child, granted } = await sub(v, [topic], ['-q', String(qos), '-C', String(sent.length)])
          assert.deepEqual(granted, [qos], 'granted QoS')
          await pub(v, ['-t', topic, '-q', String(qos), '-m', 'plain text'])
          await pub(v, ['-t', topic, '-q', String(qos), '-m', 'ünïcödé ✓'])
          await pub(v, ['-t', topic, '-q', String(qos), '-f', file('binary.bin', binary)])
          await pub(v, ['-t', topic, '-q', String(qos), '-m', 'END'])
          // -C 4 and END last: a duplicate or a reordering would show up as a wrong sequence
          const got = await subDone(child)
          assert.equal(got.length, sent.length)
          got.forEach((m, i) => {
            assert.equal(m.topic, topic)
            assert.ok(m.payload.equals(sent[i] as Buffer), `payload ${i} intact and in order`)
            assert.equal(m.qos, qos, `delivered QoS of message ${i}`)
            assert.equal(m.retain, false)
          })
        })
      }

      it(`wildcards: sub -t base/+/x -t base/# gets matching publishes only, overlapping ones once or once per subscription [MQTT-4.7.1-1] [MQTT-4.7.1-2] ${v === 'mqttv311' ? '[MQTT-3.3.5-1]' : '[MQTT-3.3.4-2]'}`, async function () {
        const base = uniq('mosq/wild')
        const { child } = await sub(v, [`${base}/+/x`, `${base}/#`], ['-q', '1', '-C', '3'])
        await pub(v, ['-t', `${base}/a/x`, '-q', '1', '-m', 'both match'])
        await pub(v, [...'-t x/nomatch -q 1 -m nomatch'.split(' ')])
        await pub(v, ['-t', `${base}/b`, '-q', '1', '-m', 'only #'])
        await pub(v, ['-t', `${base}/END`, '-q', '1', '-m', 'END'])
        const got = await subDone(child)
        const payloads = got.map(m => m.payload.toString())
        // Both versions allow one copy, or further copies one per matching subscription (3.1.1 §3.3.5, 5.0 §3.3.4).
        const oneCopy = ['both match', 'only #', 'END']
        const copyPerSub = ['both match', 'both match', 'only #']
        assert.ok(JSON.stringify(payloads) === JSON.stringify(oneCopy) || JSON.stringify(payloads) === JSON.stringify(copyPerSub),
          `unexpected deliveries ${JSON.stringify(payloads)}`)
        for (const m of got) assert.equal(m.qos, 1)
      })

      it(`retained with -r: stored and delivered to a later sub with the retain flag; -r -n deletes it ${v === 'mqttv311' ? '[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8] [MQTT-3.3.1-10] [MQTT-3.3.1-11]' : '[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-7] [MQTT-3.3.1-9]'}`, async function () {
        const base = uniq('mosq/retain')
        await pub(v, ['-t', `${base}/kept`, '-q', '1', '-r', '-m', 'kept value'])
        await pub(v, ['-t', `${base}/gone`, '-q', '1', '-r', '-m', 'to be deleted'])

        const first = await sub(v, [`${base}/#`], ['-q', '1', '-C', '2'])
        const got1 = await subDone(first.child)
        assert.deepEqual(got1.map(m => [m.topic, m.payload.toString(), m.retain]).sort(),
          [[`${base}/gone`, 'to be deleted', true], [`${base}/kept`, 'kept value', true]])

        await pub(v, ['-t', `${base}/gone`, '-q', '1', '-r', '-n'])

        // after the delete only 'kept' is retained; END (live, not retained) is published after the SUBACK
        const second = await sub(v, [`${base}/#`], ['-q', '1', '-C', '2'])
        await sleep(200)
        await pub(v, ['-t', `${base}/END`, '-q', '1', '-m', 'END'])
        const got2 = await subDone(second.child)
        assert.deepEqual(got2.map(m => [m.topic, m.payload.toString(), m.retain]),
          [[`${base}/kept`, 'kept value', true], [`${base}/END`, 'END', false]])
      })

      it('persistent session with -c: QoS 1 messages sent while the subscriber is away are delivered when it comes back [MQTT-3.1.2-5]', async function () {
        const id = uniq('mosqc').slice(0, 23)
        const topic = uniq('mosq/session')
        // connect once to create the session and its subscription, then leave (-E exits after SUBACK)
        const first = children.spawn(SUB, [...conn(), '-V', v, '-c', '-i', id, '-q', '1', '-t', topic, '-E', '-W', '10'])
        const r = await exitOf(first, 10000)
        assert.equal(r.code, 0, first.describe())
        await pub(v, ['-t', topic, '-q', '1', '-m', 'while away 1'])
        await pub(v, ['-t', topic, '-q', '1', '-m', 'while away 2'])
        const back = children.spawn(SUB, [...conn(), '-V', v, '-c', '-i', id, '-q', '1', '-t', topic, '-C', '2', '-W', '10', '-F', FORMAT])
        const got = await subDone(back)
        assert.deepEqual(got.map(m => m.payload.toString()), ['while away 1', 'while away 2'])
      })

      it('will: a mosquitto_sub killed with SIGKILL has its --will-topic message published [MQTT-3.1.2-8]', async function () {
        const topic = uniq('mosq/will-sub')
        const watcher = await sub(v, [topic], ['-q', '1', '-C', '1'])
        const victim = await sub(v, [uniq('mosq/idle')], ['--will-topic', topic, '--will-payload', 'sub was killed', '--will-qos', '1'], 30)
        victim.child.proc.kill('SIGKILL')
        const got = await subDone(watcher.child)
        assert.deepEqual(got.map(m => [m.payload.toString(), m.qos, m.retain]), [['sub was killed', 1, false]])
      })

      it('will: a mosquitto_pub -l (line mode, connection held open) killed with SIGKILL has its will published [MQTT-3.1.2-8]', async function () {
        const topic = uniq('mosq/will-pub')
        const watcher = await sub(v, [topic], ['-q', '1', '-C', '1'])
        // -l reads lines from stdin and keeps the connection open until stdin closes
        const victim = children.spawn(STDBUF, ['-oL', PUB, ...conn(), '-V', v, '-d', '-l', '-t', `${topic}/lines`, '-q', '1',
          '--will-topic', topic, '--will-payload', 'pub was killed', '--will-qos', '1', '--will-retain'], { stdio: ['pipe', 'pipe', 'pipe'] })
        await victim.waitOut(/received CONNACK/, 8000)
        victim.proc.kill('SIGKILL')
        const got = await subDone(watcher.child)
        assert.deepEqual(got.map(m => [m.payload.toString(), m.retain]), [['pub was killed', false]], 'live will copy has RETAIN=0')
        // the will is retained too: a later subscriber sees it with the retain flag
        const late = await sub(v, [topic], ['-q', '1', '-C', '1'])
        const got2 = await subDone(late.child)
        assert.deepEqual(got2.map(m => [m.payload.toString(), m.retain]), [['pub was killed', true]],
          v === 'mqttv311' ? '[MQTT-3.1.2-17] will retain' : '[MQTT-3.1.2-15] will retain')
      })

      it('will: a mosquitto_pub that finishes normally (DISCONNECT) does not publish its will [MQTT-3.1.2-10]', async function () {
        const topic = uniq('mosq/nowill')
        const watcher = await sub(v, [topic], ['-q', '1', '-C', '1'])
        await pub(v, ['-t', uniq('mosq/other'), '-m', 'x', '--will-topic', topic, '--will-payload', 'must not appear'])
        await sleep(500)
        await pub(v, ['-t', topic, '-q', '1', '-m', 'END'])
        const got = await subDone(watcher.child)
        assert.deepEqual(got.map(m => m.payload.toString()), ['END'])
      })
    })
  }

  describe('-V mqttv5 properties (-D)', function () {
    it('PUBLISH properties from mosquitto_pub -D reach mosquitto_sub unaltered: user-property, content-type, response-topic, correlation-data, payload-format-indicator, message-expiry-interval [MQTT-3.3.2-4] [MQTT-3.3.2-6] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20]', async function () {
      const topic = uniq('mosq/props')
      const { child } = await sub('mqttv5', [topic], ['-q', '1', '-C', '1'])
      await pub('mqttv5', ['-t', topic, '-q', '1', '-m', 'with properties',
        '-D', 'publish', 'user-property', 'first', 'one',
        '-D', 'publish', 'user-property', 'second', 'two',
        '-D', 'publish', 'user-property', 'first', 'again',
        '-D', 'publish', 'content-type', 'text/plain',
        '-D', 'publish', 'response-topic', 'reply/here',
        '-D', 'publish', 'correlation-data', 'corr-123',
        '-D', 'publish', 'payload-format-indicator', '1',
        '-D', 'publish', 'message-expiry-interval', '300'])
      const [m] = await subDone(child)
      assert.ok(m !== undefined)
      assert.equal(m.payload.toString(), 'with properties')
      assert.equal(m.userProperties, 'first:one second:two first:again', 'all user properties, in order, repeated keys kept')
      assert.equal(m.contentType, 'text/plain')
      assert.equal(m.responseTopic, 'reply/here')
      assert.equal(m.correlationData, 'corr-123')
      assert.equal(m.payloadFormat, '1')
      const expiry = Number(m.expiry)
      assert.ok(expiry <= 300 && expiry >= 298, `message expiry forwarded, not increased (got ${m.expiry})`)
    })

    it('a subscription identifier set with -D subscribe subscription-identifier is returned with the message [MQTT-3.3.4-3]', async function () {
      const topic = uniq('mosq/subid')
      const { child } = await sub('mqttv5', [topic], ['-q', '1', '-C', '1', '-D', 'subscribe', 'subscription-identifier', '4242'])
      await pub('mqttv5', ['-t', topic, '-q', '1', '-m', 'x'])
      const [m] = await subDone(child)
      assert.equal(m?.subscriptionId, '4242')
    })

    it('a v5 publish with properties reaches a 3.1.1 subscriber as a plain message', async function () {
      const topic = uniq('mosq/cross')
      const { child } = await sub('mqttv311', [topic], ['-q', '2', '-C', '1'])
      await pub('mqttv5', ['-t', topic, '-q', '2', '-m', 'cross version', '-D', 'publish', 'user-property', 'k', 'v', '-D', 'publish', 'content-type', 'text/plain'])
      const [m] = await subDone(child)
      assert.equal(m?.payload.toString(), 'cross version')
      assert.equal(m?.qos, 2)
      assert.equal(m?.userProperties, '')
      assert.equal(m?.contentType, '')
    })

    it('mosquitto_sub -V mqttv5 stopped with SIGINT disconnects with reason 0x04, so its will is published [MQTT-3.1.2-8]', async function () {
      // Observed behaviour of mosquitto_sub 2.0: on SIGINT/SIGTERM a v5 client sends DISCONNECT 0x04
      // (Disconnect with Will Message); a 3.1.1 client sends a plain DISCONNECT (checked below).
      const topic = uniq('mosq/will04')
      const watcher = await sub('mqttv5', [topic], ['-q', '1', '-C', '2'])
      const v5 = await sub('mqttv5', [uniq('mosq/idle')], ['--will-topic', topic, '--will-payload', 'v5 0x04 will'], 30)
      v5.child.proc.kill('SIGINT')
      await exitOf(v5.child, 5000)
      const v311 = await sub('mqttv311', [uniq('mosq/idle')], ['--will-topic', topic, '--will-payload', 'v311 will must not appear'], 30)
      v311.child.proc.kill('SIGINT')
      await exitOf(v311.child, 5000)
      await sleep(500)
      await pub('mqttv5', ['-t', topic, '-q', '1', '-m', 'END'])
      const got = await subDone(watcher.child)
      assert.deepEqual(got.map(m => m.payload.toString()), ['v5 0x04 will', 'END'])
    })
  })
})
