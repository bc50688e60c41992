// Interop: Eclipse paho-mqtt for Python (Debian python3-paho-mqtt, run with /usr/bin/python3, not a pyenv python)
// against the broker on MQTT 3.1.1 and 5.0. test/interop/py/paho_client.py drives paho and prints one JSON object;
// the assertions are here.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Children, exitOf, requirePaho, startTarget, TARGET, type Target, uniq } from './helpers'

const SCRIPT = join(__dirname, 'py', 'paho_client.py')

interface PahoMsg {
  topic: string
  payload_hex: string
  qos: number
  retain: boolean
  dup: boolean
  properties?: Record<string, unknown> | null
}
interface PahoConnack { rc: number, session_present: boolean, properties: Record<string, unknown> | null }
interface PahoOut {
  paho_version: string
  error?: string
  connack?: PahoConnack
  connack_empty_id?: PahoConnack
  connack1?: PahoConnack
  connack2?: PahoConnack
  granted?: number[]
  sent?: Array<{ payload_hex: string, qos: number }>
  received?: PahoMsg[]
  first?: PahoMsg[]
  second?: PahoMsg[]
}

const text = (m: PahoMsg | undefined): string => Buffer.from(m?.payload_hex ?? '', 'hex').toString()

describe(`interop: Python paho-mqtt vs ${TARGET} broker`, function () {
  this.timeout(30000)
  const children = new Children()
  let target: Target | undefined
  let pahoVersion = ''

  beforeEach(async function () {
    pahoVersion = requirePaho() // FAILS naming python3-paho-mqtt when missing
    target = await startTarget(children)
  })

  afterEach(async function () {
    await children.killAll()
    if (target !== undefined) await target.stop().catch(() => undefined)
    target = undefined
  })

  async function run (scenario: string, protocol: 4 | 5): Promise<PahoOut> {
    if (target === undefined) throw new Error('broker not started')
    const child = children.spawn('/usr/bin/python3', [SCRIPT, '--scenario', scenario, '--host', target.host,
      '--port', String(target.port), '--protocol', String(protocol), '--base', uniq(`paho/${scenario}`),
      '--nonce', String(Math.floor(Math.random() * 1e9))],
    { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONPATH: '' } })
    await exitOf(child, 20000)
    const line = child.out.trim().split('\n').pop() ?? ''
    let out: PahoOut
    try {
      out = JSON.parse(line) as PahoOut
    } catch {
      throw new Error(`paho script printed no JSON: ${child.describe()}`)
    }
    assert.equal(out.error, undefined, `paho scenario ${scenario} failed: ${String(out.error)}\n${child.err}`)
    assert.equal(out.paho_version, pahoVersion)
    return out
  }

  for (const protocol of [4, 5] as const) {
    const name = protocol === 4 ? 'MQTTv311' : 'MQTTv5'
    describe(name, function () {
      it(`connects: CONNACK success, Session Present 0 on a clean session ${protocol === 4 ? '[MQTT-3.2.2-1]' : '[MQTT-3.2.2-2] [MQTT-3.1.3-6] [MQTT-3.2.2-16]'}`, async function () {
        const out = await run('connect', protocol)
        assert.equal(out.connack?.rc, 0)
        assert.equal(out.connack?.session_present, false)
        if (protocol === 5) {
          assert.equal(out.connack_empty_id?.rc, 0, 'an empty client id is accepted on MQTT 5')
          const assigned = out.connack_empty_id?.properties?.AssignedClientIdentifier
          assert.ok(typeof assigned === 'string' && assigned.length > 0, `Assigned Client Identifier returned (got ${String(assigned)})`)
        }
      })

      it('QoS 1 and QoS 2 round trip: every message once, in order per QoS, payload intact, at the published QoS [MQTT-3.3.4-1] [MQTT-4.6.0-5]', async function () {
        const out = await run('roundtrip', protocol)
        assert.deepEqual(out.granted, [2])
        const sent = out.sent ?? []
        const got = out.received ?? []
        assert.equal(sent.length, 10)
        assert.equal(got.length, sent.length, 'exact message count')
        for (const qos of [1, 2]) {
          assert.deepEqual(got.filter(m => m.qos === qos).map(m => m.payload_hex), sent.filter(s => s.qos === qos).map(s => s.payload_hex),
            `QoS ${qos} messages in order, payloads intact`)
        }
        for (const m of got) {
          assert.equal(m.retain, false)
          assert.equal(m.dup, false)
        }
      })

      it(`retained: stored, delivered with the retain flag to a new subscriber, deleted by an empty retained publish ${protocol === 4 ? '[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8] [MQTT-3.3.1-10] [MQTT-3.3.1-11]' : '[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-7] [MQTT-3.3.1-9]'}`, async function () {
        const out = await run('retained', protocol)
        const first = out.first ?? []
        const rows = first.map(m => [m.topic.split('/').pop(), text(m), m.retain])
        assert.deepEqual(rows.slice(0, 2).sort(), [['gone', 'to be deleted', true], ['kept', 'kept value', true]], 'retained on subscribe')
        assert.deepEqual(rows[2], ['gone', '', false], 'the empty retained publish is forwarded live with RETAIN=0')
        assert.equal(first.length, 3)
        const second = (out.second ?? []).map(m => [m.topic.split('/').pop(), text(m), m.retain])
        assert.deepEqual(second, [['kept', 'kept value', true], ['live', 'live', false]], 'the deleted message is gone; live messages have RETAIN=0')
      })

      it(`persistent session: QoS 1 messages queued while offline arrive after reconnect with Session Present 1 ${protocol === 4 ? '[MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.2.2-2]' : '[MQTT-3.1.2-5] [MQTT-3.1.2-23] [MQTT-3.2.2-3]'}`, async function () {
        const out = await run('session', protocol)
        assert.equal(out.connack1?.session_present, false)
        assert.equal(out.connack2?.session_present, true)
        assert.deepEqual((out.received ?? []).map(text), ['offline-0', 'offline-1', 'offline-2'])
      })
    })
  }

  describe('MQTTv5 properties', function () {
    it('user properties (order and repeats kept), content type, response topic, correlation data, payload format, message expiry and subscription identifier reach paho [MQTT-3.3.2-4] [MQTT-3.3.2-6] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20] [MQTT-3.3.4-3]', async function () {
      const out = await run('props', 5)
      assert.deepEqual(out.granted, [1])
      const [m] = out.received ?? []
      assert.ok(m !== undefined)
      assert.equal(out.received?.length, 1)
      assert.equal(text(m), '{"v":1}')
      const p = m.properties ?? {}
      assert.equal(p.ContentType, 'application/json')
      assert.ok(typeof p.ResponseTopic === 'string' && p.ResponseTopic.endsWith('/reply'))
      assert.equal(p.CorrelationDataHex, Buffer.from('\x00\x01corr\xff', 'latin1').toString('hex'))
      assert.equal(p.PayloadFormatIndicator, 1)
      assert.deepEqual(p.SubscriptionIdentifier, [77])
      const expiry = p.MessageExpiryInterval
      assert.ok(typeof expiry === 'number' && expiry <= 300 && expiry >= 298, `expiry forwarded, not increased (got ${String(expiry)})`)
      assert.deepEqual(p.UserProperty, [['a', '1'], ['b', '2'], ['a', '3']], 'user properties in their original order')
    })
  })
})
