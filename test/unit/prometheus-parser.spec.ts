// The strict exposition-format parser the metrics tests rely on (test/helpers/prometheus.ts): it
// must accept a well-formed exposition and refuse each way of breaking the format.
import assert from 'node:assert/strict'
import { parsePrometheus, valueOf } from '../helpers/prometheus'

const GOOD = [
  '# HELP a_total Things, with a \\\\ backslash and a \\n newline.',
  '# TYPE a_total counter',
  'a_total{x="q\\"uote",y="back\\\\slash\\nnl"} 3',
  'a_total{x="2"} 1e3 1700000000000',
  '# a plain comment',
  '',
  '# TYPE h histogram',
  'h_bucket{le="0.5"} 1',
  'h_bucket{le="+Inf"} 2',
  'h_sum 0.75',
  'h_count 2',
  '# TYPE g gauge',
  'g -1.5',
  'g{k="v",} NaN',
  '',
].join('\n')

const BAD: Array<[string, string]> = [
  ['no final line feed', '# TYPE g gauge\ng 1'],
  ['a bad metric name', '# TYPE 1g gauge\n1g 1\n'],
  ['a bad value', 'g one\n'],
  ['two spaces before the value', 'g  1\n'],
  ['an unknown escape in a label value', 'g{k="a\\tb"} 1\n'],
  ['an unterminated label value', 'g{k="a} 1\n'],
  ['a reserved label name', 'g{__name__="x"} 1\n'],
  ['a label twice', 'g{k="a",k="b"} 1\n'],
  ['an unknown type', '# TYPE g meter\ng 1\n'],
  ['TYPE after the samples', 'g 1\n# TYPE g gauge\n'],
  ['TYPE twice', '# TYPE g gauge\n# TYPE g gauge\ng 1\n'],
  ['HELP twice', '# HELP g a\n# HELP g b\ng 1\n'],
  ['a series twice', 'g{k="a"} 1\ng{k="a"} 2\n'],
  ['a family split by another', '# TYPE g gauge\ng{k="a"} 1\n# TYPE f gauge\nf 1\ng{k="b"} 2\n'],
  ['a negative counter', '# TYPE c_total counter\nc_total -1\n'],
  ['a bucket without le', '# TYPE h histogram\nh_bucket 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'],
  ['buckets that are not cumulative', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n'],
  ['+Inf bucket unlike _count', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n'],
  ['a histogram without _sum', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 2\n'],
  ['a bare sample of a histogram family', '# TYPE h histogram\nh 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n'],
  ['a bad timestamp', 'g 1 soon\n'],
  ['a sample with no value', 'g\n'],
]

describe('strict Prometheus text parser (test helper)', function () {
  it('parses a well-formed exposition: escapes, timestamps, trailing comma, NaN, histograms', function () {
    const fam = parsePrometheus(GOOD)
    assert.equal(fam.get('a_total')?.help, 'Things, with a \\ backslash and a \n newline.')
    assert.deepEqual(fam.get('a_total')?.samples[0], { name: 'a_total', labels: { x: 'q"uote', y: 'back\\slash\nnl' }, value: 3 })
    assert.equal(valueOf(fam, 'a_total', { x: '2' }), 1000)
    assert.equal(valueOf(fam, 'h_count'), 2)
    assert.ok(Number.isNaN(valueOf(fam, 'g', { k: 'v' })))
    assert.throws(() => valueOf(fam, 'a_total'), /2 series/)
  })
  for (const [why, text] of BAD) {
    it(`refuses ${why}`, function () {
      assert.throws(() => parsePrometheus(text))
    })
  }
})
