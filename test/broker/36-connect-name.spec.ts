// A CONNECT whose protocol name does not go with its level (found undriven by mutation testing,
// docs/mutation.md): MQIsdp belongs to level 3 (MQTT 3.1), MQTT to levels 4 and 5.
import assert from 'node:assert/strict'
import { assertServing, bytes, hearthOnly, useHarness } from '../helpers'

describe('36 CONNECT protocol name and level', function () {
  const h = useHarness()

  for (const [name, level] of [['MQTT', 3], ['MQIsdp', 4], ['MQIsdp', 5]] as const) {
    it(`[MQTT-3.1.2-1] protocol name ${name} with level ${level}: the connection is closed without a CONNACK`, async function () {
      hearthOnly('[MQTT-3.1.2-1] lets a server close or answer as another protocol; Hearth closes without a packet')
      const b = await h.broker()
      const c = await b.open({ protocolVersion: level === 5 ? 5 : 4 })
      c.sendRaw(bytes.packet(1, 0, bytes.lstr(name), Buffer.from([level, 0x02]), bytes.u16(0), ...(level === 5 ? [bytes.props()] : []), bytes.lstr('x1')))
      await c.expectClosed()
      assert.deepEqual(c.received, [])
      await assertServing(b, level === 3 ? 3 : level)
    })
  }
})
