// $SYS load averages (src/broker/metrics/load.ts): when counters are folded in, and what a fold gives.
import assert from 'node:assert/strict'
import { dueForSample, LoadSeries } from '../../src/broker/metrics/load'

describe('unit: $SYS load averages', function () {
  it('a round of a 1 s $SYS timer that fires a millisecond early by the wall clock still folds the counters in; one right after another does not', function () {
    assert.equal(dueForSample(0, 1000), true, 'the first fold: the starting point')
    assert.equal(dueForSample(1_000_000, 1_000_999), true, '999 ms after the last fold (a 1 s timer, the wall clock 1 ms behind)')
    assert.equal(dueForSample(1_000_000, 1_001_000), true, 'a second after')
    assert.equal(dueForSample(1_000_000, 1_010_000), true, 'ten seconds after (the default sysInterval)')
    assert.equal(dueForSample(1_000_000, 1_000_001), false, 'the $SYS publisher\'s first round, right after the starting point')
    assert.equal(dueForSample(1_000_000, 1_000_400), false, '400 ms after')
  })

  it('the rate since the previous fold, per minute, decays into the 1, 5 and 15 minute averages as e^(-dt/window)', function () {
    const l = new LoadSeries()
    l.sample(100, 0) // the starting point only
    assert.deepEqual(l.value, { '1min': 0, '5min': 0, '15min': 0 })
    l.sample(104, 1) // 4 events in 1 s: 240 per minute
    const after = (window: number): number => 240 + Math.exp(-1 / window) * (0 - 240) // rate + decay × (previous − rate)
    assert.deepEqual(l.value, { '1min': after(60), '5min': after(300), '15min': after(900) })
    assert.equal(l.value['1min'].toFixed(2), '3.97')
  })
})
