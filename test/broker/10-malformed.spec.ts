import assert from 'node:assert/strict'
import {
  VERSIONS, assertPublish, assertServing, bytes, connackCode, connectPacket, hex, sleep, spec, deviates, useHarness,
  type TestBroker, type TestClient, type Version,
} from '../helpers'

const { packet, lstr, u16, props, prop, rawPublish } = bytes
const MALFORMED = 0x81
const PROTOCOL_ERROR = 0x82

/** Property block for a v5 packet, nothing for 3.1.1. */
const p5 = (v: Version, ...ps: Buffer[]): Buffer[] => (v === 5 ? [props(...ps)] : [])

describe('10 malformed packets and protocol violations', function () {
  const h = useHarness()

  for (const v of VERSIONS) {
    describe(`protocol level ${v}`, function () {
      /**
       * Send `raw` on a connected client: the broker must close that connection only (MQTT 5: DISCONNECT
       * with one of `reasons`, if it sends one), keep a bystander's connection working, and keep serving.
       */
      async function expectClose (b: TestBroker, raw: Buffer | ((c: TestClient) => Buffer), reasons: number[]): Promise<TestClient> {
        const bystander = await b.connect({ protocolVersion: v })
        const c = await b.connect({ protocolVersion: v })
        c.sendRaw(typeof raw === 'function' ? raw(c) : raw)
        await c.expectErrorClose(reasons)
        bystander.send({ cmd: 'pingreq' })
        await bystander.next('pingresp')
        await assertServing(b, v)
        return c
      }

      /** A broken CONNECT: the connection closes; only a refusing CONNACK (code in `codes`) may come first. */
      async function expectConnectRefused (b: TestBroker, raw: Buffer, codes: number[]): Promise<void> {
        const c = await b.open({ protocolVersion: v })
        c.sendRaw(raw)
        await c.expectClosed()
        for (const p of c.received) {
          assert.equal(p.cmd, 'connack', `only a CONNACK may precede the close [MQTT-3.14.0-1], got ${p.cmd}`)
          if (p.cmd === 'connack') assert.ok(codes.includes(connackCode(p)), `CONNACK ${hex(connackCode(p))}, allowed: ${codes.map(hex).join(', ') || 'none'}`)
        }
        await assertServing(b, v)
      }

      const flagsOf = (c: TestClient, f: (old: number) => number): Buffer => {
        const raw = c.encode(connectPacket({ protocolVersion: v }))
        return bytes.patchByte(raw, bytes.connectFlagsOffset(raw), f)
      }

      // ----- fixed header -----

      it(`${spec(v, ['3.3.1-4'], ['3.3.1-4'])} a PUBLISH with both QoS bits set closes the connection (v5: 0x81)`, async function () {
        const b = await h.broker()
        await expectClose(b, rawPublish({ topic: Buffer.from('a'), qos: 1, flags: 0x06, v5: v === 5 }), [MALFORMED])
      })

      const badFlags: Array<[string, Buffer, string[], string[]]> = [
        ['PUBREL with flags 0000', packet(6, 0x0, u16(1)), ['3.6.1-1'], ['3.6.1-1']],
        ['SUBSCRIBE with flags 0000', packet(8, 0x0, u16(1), ...p5(v), lstr('a'), Buffer.from([0])), ['3.8.1-1'], ['3.8.1-1']],
        ['UNSUBSCRIBE with flags 0000', packet(10, 0x0, u16(1), ...p5(v), lstr('a')), ['3.10.1-1'], ['3.10.1-1']],
        ['PINGREQ with flags 0001', packet(12, 0x1), ['2.2.2-1', '2.2.2-2'], ['2.1.3-1']],
        ['PUBACK with flags 0010', packet(4, 0x2, u16(1)), ['2.2.2-1', '2.2.2-2'], ['2.1.3-1']],
      ]
      for (const [what, raw, r4, r5] of badFlags) {
        it(`${spec(v, r4, r5)} a ${what} (reserved flags wrong) closes the connection (v5: 0x81)`, async function () {
          if (/^(PINGREQ|PUBACK)/.test(what)) deviates('mosquitto', `${spec(v, r4, r5)} Mosquitto 2.0.11 ignores wrong reserved flags on PINGREQ and PUBACK (it answers the PINGREQ) instead of closing the connection`)
          const b = await h.broker()
          await expectClose(b, raw, [MALFORMED])
        })
      }

      it(`${spec(v, ['3.14.1-1', '3.1.2-8'], ['3.14.1-1', '3.1.2-8'])} a DISCONNECT with reserved flags set is malformed, not a normal disconnect: the will IS published`, async function () {
        const b = await h.broker()
        const w = await b.connect({ protocolVersion: v })
        await w.subscribe('mw/#', 0)
        const c = await b.connect({ protocolVersion: v, will: { topic: 'mw/x', payload: Buffer.from('w'), qos: 0, retain: false } })
        c.sendRaw(packet(14, 0x1, ...(v === 5 ? [Buffer.from([0])] : [])))
        await c.expectErrorClose([MALFORMED])
        assertPublish(await w.waitFor('publish'), { topic: 'mw/x', payload: 'w' })
      })

      it(`${spec(v, null, null, '§2.2.1 reserved packet type 0')} packet type 0 closes the connection`, async function () {
        const b = await h.broker()
        await expectClose(b, packet(0, 0), [MALFORMED, PROTOCOL_ERROR])
      })

      if (v === 4) {
        it('(MQTT 3.1.1 §2.2.1) packet type 15 is reserved in 3.1.1 and closes the connection', async function () {
          const b = await h.broker()
          await expectClose(b, packet(15, 0), [])
        })
      }

      it(`${spec(v, null, ['1.5.5-1'], '§2.2.3')} a Remaining Length longer than 4 bytes closes the connection`, async function () {
        const b = await h.broker()
        await expectClose(b, Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]), [MALFORMED, 0x95])
      })

      if (v === 5) {
        it('[MQTT-1.5.5-1] a Remaining Length not in its minimal encoding is malformed (0x81)', async function () {
          deviates('mosquitto', '[MQTT-1.5.5-1] Mosquitto 2.0.11 accepts a Remaining Length that is not minimally encoded (0xC0 0x80 0x00 is taken as a PINGREQ)')
          const b = await h.broker()
          await expectClose(b, Buffer.from([0xc0, 0x80, 0x00]), [MALFORMED])
        })
      }

      it(`${spec(v, ['4.8.0-1'], ['4.13.1-1'])} a PUBLISH whose topic length runs past the end of the packet closes the connection (v5: 0x81)`, async function () {
        const b = await h.broker()
        await expectClose(b, packet(3, 0, u16(50), Buffer.from('abc')), [MALFORMED])
      })

      // ----- UTF-8 -----

      const badUtf8: Array<[string, number[]]> = [
        ['an invalid byte sequence', [0x61, 0xc3, 0x28]],
        ['a lone continuation byte', [0x61, 0x80]],
        ['an overlong encoding', [0xc0, 0xaf]],
        ['an encoded UTF-16 surrogate (U+D800)', [0xed, 0xa0, 0x80]],
        ['a truncated sequence', [0x61, 0xe2, 0x82]],
      ]
      for (const [what, seq] of badUtf8) {
        it(`${spec(v, ['1.5.3-1', '3.3.2-1'], ['1.5.4-1', '3.3.2-1'])} a PUBLISH topic with ${what} closes the connection (v5: 0x81) and is not delivered`, async function () {
          const b = await h.broker()
          const w = await b.connect({ protocolVersion: v })
          await w.subscribe('#', 0)
          await expectClose(b, rawPublish({ topic: Buffer.from(seq), qos: 0, v5: v === 5 }), [MALFORMED])
          const leaked = w.drain().filter(p => p.cmd === 'publish' && !p.topic.startsWith('alive/'))
          assert.deepEqual(leaked, [])
        })
      }

      it(`${spec(v, ['1.5.3-1', '3.8.3-1'], ['1.5.4-1', '3.8.3-1'])} a SUBSCRIBE topic filter with invalid UTF-8 closes the connection (v5: 0x81)`, async function () {
        const b = await h.broker()
        await expectClose(b, packet(8, 2, u16(1), ...p5(v), lstr(Buffer.from([0x61, 0xff])), Buffer.from([0])), [MALFORMED])
      })

      it(`${spec(v, ['1.5.3-1', '3.10.3-1'], ['1.5.4-1', '3.10.3-1'])} an UNSUBSCRIBE topic filter with invalid UTF-8 closes the connection (v5: 0x81)`, async function () {
        const b = await h.broker()
        await expectClose(b, packet(10, 2, u16(1), ...p5(v), lstr(Buffer.from([0xed, 0xbf, 0xbf]))), [MALFORMED])
      })

      // ----- SUBSCRIBE / UNSUBSCRIBE payload -----

      it(`${spec(v, ['3.8.3-3'], ['3.8.3-2'])} a SUBSCRIBE with no topic filter closes the connection`, async function () {
        const b = await h.broker()
        await expectClose(b, packet(8, 2, u16(1), ...p5(v)), [MALFORMED, PROTOCOL_ERROR])
      })

      it(`${spec(v, ['3.10.3-2'], ['3.10.3-2'])} an UNSUBSCRIBE with no topic filter closes the connection`, async function () {
        const b = await h.broker()
        await expectClose(b, packet(10, 2, u16(1), ...p5(v)), [MALFORMED, PROTOCOL_ERROR])
      })

      it(`${spec(v, ['3.8.3-4'], null, '§3.8.3.1')} a SUBSCRIBE requesting QoS 3 closes the connection`, async function () {
        const b = await h.broker()
        await expectClose(b, packet(8, 2, u16(1), ...p5(v), lstr('a'), Buffer.from([3])), [MALFORMED, PROTOCOL_ERROR])
      })

      it(`${spec(v, ['3.8.3-4'], ['3.8.3-5'])} a SUBSCRIBE with reserved option bits set closes the connection (v5: 0x81)`, async function () {
        const b = await h.broker()
        await expectClose(b, packet(8, 2, u16(1), ...p5(v), lstr('a'), Buffer.from([v === 5 ? 0xc1 : 0x05])), [MALFORMED])
      })

      // ----- packet identifiers -----

      it(`${spec(v, ['2.3.1-1'], ['2.2.1-3'])} a SUBSCRIBE with packet identifier 0 closes the connection`, async function () {
        const b = await h.broker()
        await expectClose(b, packet(8, 2, u16(0), ...p5(v), lstr('a'), Buffer.from([0])), [MALFORMED, PROTOCOL_ERROR])
      })

      it(`${spec(v, ['2.3.1-1'], ['2.2.1-3'])} a QoS 1 PUBLISH with packet identifier 0 closes the connection`, async function () {
        const b = await h.broker()
        await expectClose(b, rawPublish({ topic: Buffer.from('a'), qos: 1, messageId: 0, v5: v === 5 }), [MALFORMED, PROTOCOL_ERROR])
      })

      it(`${spec(v, ['3.3.1-2'], ['3.3.1-2'])} a QoS 0 PUBLISH with DUP set closes the connection`, async function () {
        deviates('mosquitto', `${spec(v, ['3.3.1-2'], ['3.3.1-2'])} Mosquitto 2.0.11 accepts a QoS 0 PUBLISH with DUP 1 instead of closing the connection`)
        const b = await h.broker()
        await expectClose(b, rawPublish({ topic: Buffer.from('a'), flags: 0x08, v5: v === 5 }), [MALFORMED, PROTOCOL_ERROR])
      })

      // ----- packets only a server sends -----

      const serverOnly: Array<[string, Buffer]> = [
        ['CONNACK', packet(2, 0, Buffer.from([0, 0]), ...p5(v))],
        ['SUBACK', packet(9, 0, u16(1), ...p5(v), Buffer.from([0]))],
        ['UNSUBACK', packet(11, 0, u16(1), ...p5(v), ...(v === 5 ? [Buffer.from([0])] : []))],
        ['PINGRESP', packet(13, 0)],
      ]
      for (const [what, raw] of serverOnly) {
        it(`${spec(v, ['4.8.0-1'], ['4.13.1-1'])} a ${what} from a client is a protocol violation: the connection closes (v5: 0x82)`, async function () {
          if (what !== 'CONNACK') deviates('mosquitto', `${spec(v, ['4.8.0-1'], ['4.13.1-1'])} Mosquitto 2.0.11 ignores a SUBACK, UNSUBACK or PINGRESP sent by a client instead of closing the connection`)
          const b = await h.broker()
          await expectClose(b, raw, [PROTOCOL_ERROR, MALFORMED])
        })
      }

      // ----- CONNECT -----

      it(`${spec(v, ['3.1.2-14'], ['3.1.2-12'])} a CONNECT with Will QoS 3 is refused: closed, no accepting CONNACK`, async function () {
        const b = await h.broker()
        const c = await b.open({ protocolVersion: v })
        const raw = c.encode(connectPacket({ protocolVersion: v, will: { topic: 'w', payload: Buffer.from('x'), qos: 2, retain: false } }))
        await expectConnectRefused(b, bytes.patchByte(raw, bytes.connectFlagsOffset(raw), f => f | 0x18), v === 5 ? [MALFORMED] : [])
      })

      it(`${spec(v, ['3.1.2-11', '3.1.2-13'], ['3.1.2-11'])} a CONNECT with Will Flag 0 but Will QoS 1 is refused: closed, no accepting CONNACK`, async function () {
        const b = await h.broker()
        const c = await b.open({ protocolVersion: v })
        await expectConnectRefused(b, flagsOf(c, f => f | 0x08), v === 5 ? [MALFORMED] : [])
      })

      it(`${spec(v, ['3.1.2-11', '3.1.2-15'], ['3.1.2-13'])} a CONNECT with Will Flag 0 but Will Retain 1 is refused: closed, no accepting CONNACK`, async function () {
        const b = await h.broker()
        const c = await b.open({ protocolVersion: v })
        await expectConnectRefused(b, flagsOf(c, f => f | 0x20), v === 5 ? [MALFORMED] : [])
      })

      if (v === 4) {
        it('[MQTT-3.1.2-22] (3.1.1) a CONNECT with the Password Flag but no User Name Flag is refused: closed, no accepting CONNACK', async function () {
          const b = await h.broker()
          const c = await b.open({ protocolVersion: 4 })
          const raw = c.encode(connectPacket({ protocolVersion: 4, username: 'u', password: 'p' }))
          // Drop the user name: clear its flag and cut its field (2-byte length + 'u') out of the payload.
          const at = raw.indexOf(Buffer.from([0x00, 0x01, 0x75, 0x00, 0x01, 0x70]))
          const body = Buffer.concat([raw.subarray(2, at), raw.subarray(at + 3)])
          const fixed = Buffer.concat([Buffer.from([0x10, body.length]), body])
          await expectConnectRefused(b, bytes.patchByte(fixed, bytes.connectFlagsOffset(fixed), f => f & ~0x80), [])
        })
      }

      it(`${spec(v, ['1.5.3-1', '3.1.3-4', '3.1.4-1'], ['1.5.4-1', '3.1.3-4', '3.1.4-1'])} a client identifier with invalid UTF-8 is refused: closed${v === 5 ? ', CONNACK 0x81/0x85 at most' : ''}`, async function () {
        const b = await h.broker()
        const body = Buffer.concat([lstr('MQTT'), Buffer.from([v, 0x02]), u16(0), ...p5(v), lstr(Buffer.from([0x61, 0xfe, 0x62]))])
        await expectConnectRefused(b, packet(1, 0, body), v === 5 ? [MALFORMED, 0x85] : [0x02])
      })

      it(`${spec(v, ['1.5.3-2'], ['1.5.4-2'])} a client identifier containing U+0000 is refused: closed`, async function () {
        const b = await h.broker()
        const body = Buffer.concat([lstr('MQTT'), Buffer.from([v, 0x02]), u16(0), ...p5(v), lstr(Buffer.from([0x61, 0x00, 0x62]))])
        await expectConnectRefused(b, packet(1, 0, body), v === 5 ? [MALFORMED, 0x85] : [0x02])
      })

      it(`${spec(v, ['3.1.4-1'], ['3.1.4-1'])} a CONNECT truncated inside its payload is refused: closed`, async function () {
        const b = await h.broker()
        const body = Buffer.concat([lstr('MQTT'), Buffer.from([v, 0x02]), u16(0), ...p5(v), u16(10), Buffer.from('ab')])
        await expectConnectRefused(b, packet(1, 0, body), v === 5 ? [MALFORMED] : [])
      })

      it(`${spec(v, ['3.1.0-1'], ['3.1.0-1'])} garbage bytes instead of CONNECT close the connection without a reply`, async function () {
        const b = await h.broker()
        const c = await b.open({ protocolVersion: v })
        c.sendRaw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
        await c.expectClosed()
        assert.deepEqual(c.received, [])
        await assertServing(b, v)
      })

      // ----- state errors that are not fatal -----

      it(`${spec(v, ['4.3.3-2'], ['4.3.3-11'], '§3.7.2.1')} a PUBREL for an unknown packet identifier is answered with PUBCOMP${v === 5 ? ' 0x92' : ''} and the connection stays open`, async function () {
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v })
        c.send({ cmd: 'pubrel', messageId: 999 })
        const comp = await c.next('pubcomp')
        assert.equal(comp.messageId, 999)
        if (v === 5 && comp.reasonCode !== 0x92) deviates('mosquitto', '(MQTT 5 3.7.2.1) Mosquitto 2.0.11 answers a PUBREL for an unknown packet identifier with PUBCOMP 0x00 Success instead of 0x92 Packet Identifier not found')
        if (v === 5) assert.equal(comp.reasonCode, 0x92)
        c.send({ cmd: 'pingreq' })
        await c.next('pingresp')
      })

      it('a PUBACK for a packet identifier the broker never used does not disturb the connection', async function () {
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v })
        await c.subscribe('pa/#', 1)
        c.send({ cmd: 'puback', messageId: 4321 })
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('pa/a', 'x', { qos: 1 })
        assertPublish(await c.waitFor('publish'), { topic: 'pa/a', payload: 'x', qos: 1 })
      })

      it('50 connections sending pseudo-random garbage after CONNECT are each closed; nothing escapes the broker and it keeps serving', async function () {
        const b = await h.broker()
        let seed = 12345 + v
        const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed }
        const bystander = await b.connect({ protocolVersion: v })
        const clients: TestClient[] = []
        for (let i = 0; i < 50; i++) {
          const c = await b.connect({ protocolVersion: v })
          const junk = Buffer.alloc(64 + (rnd() % 200))
          for (let j = 0; j < junk.length; j++) junk[j] = rnd() & 0xff
          junk[0] = [0x00, 0x36, 0x61, 0x81, 0xf3, 0x10][i % 6]
          c.sendRaw(junk)
          c.stream.end()
          clients.push(c)
        }
        await Promise.all(clients.map(c => c.closed))
        await sleep(50)
        bystander.send({ cmd: 'pingreq' })
        await bystander.next('pingresp')
        await assertServing(b, v)
      })
    })
  }

  describe('MQTT 5 property errors', function () {
    async function expectClose5 (b: TestBroker, raw: Buffer, reasons: number[]): Promise<void> {
      const c = await b.connect({ protocolVersion: 5 })
      c.sendRaw(raw)
      const d = await c.expectClosed()
      if (d === undefined) deviates('mosquitto', '(SHOULD, MQTT 5 4.13.1) Mosquitto 2.0.11 closes the connection on some Protocol Errors (here a property given twice) without a DISCONNECT giving the reason')
      assert.ok(d, 'MQTT 5: a DISCONNECT gives the reason')
      assert.ok(reasons.includes(d.reasonCode ?? 0), `DISCONNECT ${hex(d.reasonCode)}, expected ${reasons.map(hex).join('/')}`)
      await assertServing(b, 5)
    }

    it('(MQTT 5 §2.2.2.2) a property included twice where only one is allowed (Content Type) is a Protocol Error: DISCONNECT 0x82', async function () {
      const b = await h.broker()
      await expectClose5(b, packet(3, 0, lstr('a'), props(prop(0x03, lstr('x')), prop(0x03, lstr('y'))), Buffer.from('p')), [PROTOCOL_ERROR])
    })

    it('(MQTT 5 §2.2.2.2) an unknown property identifier is malformed: DISCONNECT 0x81', async function () {
      const b = await h.broker()
      await expectClose5(b, packet(3, 0, lstr('a'), props(prop(0x7f, Buffer.from([1]))), Buffer.from('p')), [MALFORMED, PROTOCOL_ERROR])
    })

    it('(MQTT 5 §2.2.2.2) a property identifier not valid for the packet type (Session Expiry Interval on PUBLISH) is a Malformed Packet', async function () {
      const b = await h.broker()
      await expectClose5(b, packet(3, 0, lstr('a'), props(prop(0x11, Buffer.from([0, 0, 0, 1]))), Buffer.from('p')), [MALFORMED, PROTOCOL_ERROR])
    })

    it('[MQTT-3.3.4-6] a PUBLISH from a client carrying a Subscription Identifier is a Protocol Error: DISCONNECT 0x82', async function () {
      deviates('mosquitto', '[MQTT-3.3.4-6] Mosquitto 2.0.11 accepts a PUBLISH from a client that carries a Subscription Identifier')
      const b = await h.broker()
      const c = await b.connect({ protocolVersion: 5 })
      c.send({ cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { subscriptionIdentifier: 5 } })
      const d = await c.expectClosed()
      assert.equal(d?.reasonCode, PROTOCOL_ERROR)
    })

    it('(MQTT 5 §3.8.2.1.2) a Subscription Identifier of 0 is a Protocol Error: DISCONNECT 0x82', async function () {
      const b = await h.broker()
      await expectClose5(b, packet(8, 2, u16(1), props(prop(0x0b, Buffer.from([0]))), lstr('a'), Buffer.from([0])), [PROTOCOL_ERROR, MALFORMED])
    })

    it('(MQTT 5 §3.8.3.1) Retain Handling 3 is a Protocol Error: DISCONNECT 0x82', async function () {
      const b = await h.broker()
      await expectClose5(b, packet(8, 2, u16(1), props(), lstr('a'), Buffer.from([0x30])), [PROTOCOL_ERROR, MALFORMED])
    })

    for (const [name, p] of [
      ['Receive Maximum 0', prop(0x21, u16(0))],
      ['Maximum Packet Size 0', prop(0x27, Buffer.from([0, 0, 0, 0]))],
      ['Request Problem Information 2', prop(0x17, Buffer.from([2]))],
      ['Authentication Data without an Authentication Method', prop(0x16, lstr('d'))],
    ] as const) {
      it(`(MQTT 5 §3.1.2.11) a CONNECT with ${name} is a Protocol Error: closed, CONNACK 0x82/0x81 at most`, async function () {
        if (name.startsWith('Authentication Data')) deviates('mosquitto', '(MQTT 5 3.1.2.11.10) Mosquitto 2.0.11 accepts a CONNECT with Authentication Data but no Authentication Method')
        const b = await h.broker()
        const c = await b.open({ protocolVersion: 5 })
        c.sendRaw(packet(1, 0, lstr('MQTT'), Buffer.from([5, 0x02]), u16(0), props(p), lstr('x1')))
        await c.expectClosed()
        for (const pk of c.received) {
          assert.equal(pk.cmd, 'connack')
          if (pk.cmd === 'connack') assert.ok([PROTOCOL_ERROR, MALFORMED].includes(connackCode(pk)), `CONNACK ${hex(connackCode(pk))}`)
        }
      })
    }

    it('[MQTT-3.14.2-1] a DISCONNECT with an unknown reason code (0x03) is malformed/protocol error and does not count as normal: the will is published', async function () {
      deviates('mosquitto', '[MQTT-3.14.2-1] Mosquitto 2.0.11 takes a DISCONNECT with the undefined reason code 0x03 as a normal disconnection and discards the will')
      const b = await h.broker()
      const w = await b.connect({ protocolVersion: 5 })
      await w.subscribe('rc/#', 0)
      const c = await b.connect({ protocolVersion: 5, will: { topic: 'rc/w', payload: Buffer.from('w'), qos: 0, retain: false } })
      c.sendRaw(packet(14, 0, Buffer.from([0x03, 0x00])))
      await c.expectClosed()
      assertPublish(await w.waitFor('publish'), { topic: 'rc/w', payload: 'w' })
    })
  })
})
