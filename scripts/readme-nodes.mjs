// Copies docs/nodes.md (the node reference) into README.md between the NODES markers, one heading
// level down, so the README stays the one user's manual. Run after editing docs/nodes.md.
import { readFileSync, writeFileSync } from 'node:fs'

const start = '<!-- NODES:START (generated from docs/nodes.md by scripts/readme-nodes.mjs) -->'
const end = '<!-- NODES:END -->'
const readme = readFileSync('README.md', 'utf8')
const nodes = readFileSync('docs/nodes.md', 'utf8')
  .replace(/^(#+) /gm, (_, h) => '#' + h + ' ')
  .replace(/\]\((editor\.png|persistence-figures\.md)\)/g, '](docs/$1)')
  .replace(/^### Quick start and tests[\s\S]*$/m, '')
  .trim()
const a = readme.indexOf(start)
const b = readme.indexOf(end)
const marker = readme.indexOf('<!-- NODES -->')
let out
if (a !== -1 && b !== -1) out = readme.slice(0, a + start.length) + '\n' + nodes + '\n' + readme.slice(b)
else if (marker !== -1) out = readme.replace('<!-- NODES -->', `${start}\n${nodes}\n${end}`)
else throw new Error('README.md has no NODES marker')
writeFileSync('README.md', out)
