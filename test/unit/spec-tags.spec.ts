// The spec-tag check that `npm run lint` runs on src/ (scripts/spec-tags.mjs, issue 13): every
// citation names MQTT 3.1.1 or MQTT 5.0, since the two number their statements independently.
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { checkSpecTags, checkSpecTagsTree } from '../../scripts/spec-tags.mjs'

const root = path.join(__dirname, '..', '..')

describe('unit: spec tags in src/ (lint)', function () {
  it('accepts statements and sections that name their specification, alone, listed, as ranges or for both', function () {
    const good = [
      '// [v5 MQTT-3.1.2-24] never above the client\'s maximum',
      '// [v3.1.1 MQTT-3.1.2-24] keep alive',
      '/** [v3.1.1 MQTT-3.2.2-4 / v5 MQTT-3.2.2-6] and close [v3.1.1 MQTT-3.2.2-5 / v5 MQTT-3.2.2-7]. */',
      ' * [v5 MQTT-3.3.2-8, v5 MQTT-3.3.2-9] [v5 MQTT-3.3.1-9..11] [v3.1.1 MQTT-4.7.1-2..3 / v5 MQTT-4.7.1-1..2]',
      '// [v5 §4.13] [v3.1.1 §4.3.2 / v5 §4.3.2] [v5 §3.14.2.2.2]',
      '// [v3.1.1 MQTT-3.1.2-8 / v5 MQTT-3.1.2-8 does not apply to a server shutdown]',
      '// prose that is no tag: mqtt-packet, MQTT-SN, MQTT 5 section 2.2.2.2, MQTT 3.1.1',
    ].join('\n')
    assert.deepEqual(checkSpecTags(good, 'good.ts'), [])
  })

  it('reports bare tags, the unversioned member of a list, wrong version prefixes, sections without version and placeholders, with line and column', function () {
    const bad = [
      '// [MQTT-3.1.2-24]',
      '// [v5 MQTT-3.3.2-8, MQTT-3.3.2-9]',
      '// [v3 MQTT-3.1.2-1] [5 MQTT-1.5.5-1] [v55 MQTT-1.5.5-1]',
      '// [MQTT-4.3.3] and §4.1',
      '// [v5 MQTT-3.1.2-?] [v5 MQTT-x.y.z] see x.y.z [v3.1.1 §?]',
    ].join('\n')
    const got = checkSpecTags(bad, 'bad.ts').map(p => `${p.file}:${p.line}:${p.column} ${p.message}`)
    assert.deepEqual(got, [
      'bad.ts:1:5 "MQTT-3.1.2-24" does not say which specification it cites: write "v3.1.1 MQTT-3.1.2-24", "v5 MQTT-3.1.2-24" or both',
      'bad.ts:2:22 "MQTT-3.3.2-9" does not say which specification it cites: write "v3.1.1 MQTT-3.3.2-9", "v5 MQTT-3.3.2-9" or both',
      'bad.ts:3:8 "MQTT-3.1.2-1" does not say which specification it cites: write "v3.1.1 MQTT-3.1.2-1", "v5 MQTT-3.1.2-1" or both',
      'bad.ts:3:25 "MQTT-1.5.5-1" does not say which specification it cites: write "v3.1.1 MQTT-1.5.5-1", "v5 MQTT-1.5.5-1" or both',
      'bad.ts:3:44 "MQTT-1.5.5-1" does not say which specification it cites: write "v3.1.1 MQTT-1.5.5-1", "v5 MQTT-1.5.5-1" or both',
      'bad.ts:4:5 "MQTT-4.3.3" is a section, not a statement: write it as [v3.1.1 §4.3.3] or [v5 §4.3.3]',
      'bad.ts:4:21 "§4.1" does not say which specification it cites: write "v3.1.1 §…" or "v5 §…"',
      'bad.ts:5:8 "MQTT-3.1.2-?" is not a statement number (MQTT-a.b.c-n)',
      'bad.ts:5:26 "MQTT-x.y.z" is not a statement number (MQTT-a.b.c-n)',
      'bad.ts:5:56 "§?]" is not a section number',
      'bad.ts:5:31 placeholder "x.y.z"',
      'bad.ts:5:42 placeholder "x.y.z"',
    ])
  })

  it('walks a tree: files in subfolders are checked, other extensions are not', function () {
    const dir = mkdtempSync(path.join(tmpdir(), 'hearth-spectags-'))
    try {
      mkdirSync(path.join(dir, 'a', 'b'), { recursive: true })
      writeFileSync(path.join(dir, 'ok.ts'), '// [v5 MQTT-3.1.2-24]\n')
      writeFileSync(path.join(dir, 'a', 'b', 'deep.ts'), 'x\n// [MQTT-3.1.0-1]\n')
      writeFileSync(path.join(dir, 'a', 'editor.html'), '<!-- [MQTT-4.7.2-1] -->\n')
      writeFileSync(path.join(dir, 'a', 'notes.bin'), '[MQTT-4.7.2-1]\n')
      const got = checkSpecTagsTree(dir).map(p => `${path.relative(dir, p.file)}:${p.line}:${p.column}`)
      assert.deepEqual(got, [`${path.join('a', 'b', 'deep.ts')}:2:5`, `${path.join('a', 'editor.html')}:1:7`])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('src/ holds no bare tag, no unversioned section and no placeholder', function () {
    assert.deepEqual(checkSpecTagsTree(path.join(root, 'src')), [])
  })
})
