// Routing paths that mutation testing found undriven (src/broker/router.ts; docs/mutation.md).
import assert from 'node:assert/strict'
import type { DeliveredMessage } from '../../src/broker/types'
import { pollUntil } from '../helpers/wait'
import { WAIT, useHarness } from '../helpers'

describe('39 routing paths', function () {
  const h = useHarness()

  it('[MQTT-4.8.2-3] (MQTT 5 §4.8.2, issue 12) a shared subscription\'s copy tells an in-process client the shared filter that matched, apart from the copy for its own subscription', async function () {
    const b = await h.broker()
    const local = await b.local({ protocolVersion: 5 })
    const got: DeliveredMessage[] = []
    local.on('message', (m: DeliveredMessage) => got.push(m))
    await local.subscribe([{ topic: '$share/g1/sh/+', qos: 1 }, { topic: 'sh/x', qos: 0 }])
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('sh/x', 'one', { qos: 1 })
    await pollUntil(() => got.length === 2, WAIT, 'both copies')
    const seen = got.map(m => ({ topic: m.topic, payload: m.payload.toString(), qos: m.qos, filters: m.filters })).sort((a, b) => a.qos - b.qos)
    assert.deepEqual(seen, [
      { topic: 'sh/x', payload: 'one', qos: 0, filters: ['sh/x'] },
      { topic: 'sh/x', payload: 'one', qos: 1, filters: ['$share/g1/sh/+'] },
    ])
  })
})
