// Spec tags (issue 13): MQTT 3.1.1 and MQTT 5.0 number their normative statements independently
// ([MQTT-3.1.2-24] is the Keep Alive rule in one and the Maximum Packet Size rule in the other),
// so every citation in src/ names its specification: [v5 MQTT-3.1.2-24], [v3.1.1 MQTT-3.1.2-24],
// both as [v3.1.1 MQTT-3.2.2-4 / v5 MQTT-3.2.2-6], a section as [v5 §4.13]. No placeholders.
// `npm run lint` runs checkSpecTagsTree('src'); test/unit/spec-tags.spec.ts runs both functions.
import { readdirSync, readFileSync } from 'node:fs'
import { extname, join } from 'node:path'

const VERSION_BEFORE = /(?:^|[^\w.])(?:v3\.1\.1|v5) $/
// What follows "MQTT-" when it is meant as a statement number (a digit) or a placeholder for one.
const TAG = /MQTT-(?=[\dxX?*#])[\w.?*#-]*/g
const STATEMENT = /^MQTT-\d+(?:\.\d+){2,3}-\d+(?:\.\.\d+)?$/
const SECTION = /§\s*[\dxX?]/g
const SECTION_NUMBER = /^§\d+(?:\.\d+)*(?![\w?])/
const PLACEHOLDERS = [/\bx\.y\.z\b/gi]
const EXTENSIONS = new Set(['.ts', '.js', '.mjs', '.cjs', '.html', '.json', '.md'])

/**
 * Problems with the spec tags in `text`: each { file, line, column, message }. A statement tag is
 * `v3.1.1 MQTT-a.b.c-n` or `v5 MQTT-a.b.c-n` (a range as `-n..m`); a section is `v3.1.1 §a.b` or `v5 §a.b`.
 */
export function checkSpecTags (text, file = '<text>') {
  const problems = []
  const lines = text.split('\n')
  lines.forEach((line, i) => {
    const report = (index, message) => problems.push({ file, line: i + 1, column: index + 1, message })
    for (const m of line.matchAll(TAG)) {
      const tag = m[0].replace(/\.$/, '')
      if (!STATEMENT.test(tag)) {
        report(m.index, /^MQTT-\d+(?:\.\d+)*$/.test(tag)
          ? `"${tag}" is a section, not a statement: write it as [v3.1.1 §${tag.slice(5)}] or [v5 §${tag.slice(5)}]`
          : `"${tag}" is not a statement number (MQTT-a.b.c-n)`)
      } else if (!VERSION_BEFORE.test(line.slice(0, m.index))) {
        report(m.index, `"${tag}" does not say which specification it cites: write "v3.1.1 ${tag}", "v5 ${tag}" or both`)
      }
    }
    for (const m of line.matchAll(SECTION)) {
      const rest = line.slice(m.index)
      if (!SECTION_NUMBER.test(rest)) report(m.index, `"${rest.slice(0, 12)}" is not a section number`)
      else if (!VERSION_BEFORE.test(line.slice(0, m.index))) report(m.index, `"${rest.match(SECTION_NUMBER)[0]}" does not say which specification it cites: write "v3.1.1 §…" or "v5 §…"`)
    }
    for (const re of PLACEHOLDERS) {
      for (const m of line.matchAll(re)) report(m.index, `placeholder "${m[0]}"`)
    }
  })
  return problems
}

/** checkSpecTags over every source file under `dir`. */
export function checkSpecTagsTree (dir) {
  const problems = []
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (EXTENSIONS.has(extname(e.name))) problems.push(...checkSpecTags(readFileSync(p, 'utf8'), p))
    }
  }
  walk(dir)
  return problems
}
