// `npm run lint` (part of `npm test`): spec tags in src/, ESLint, then knip (unused files, exports, dependencies).
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { checkSpecTagsTree } from './spec-tags.mjs'

const bin = (name, file) => join('node_modules', name, file)

// Every citation of the MQTT specifications in src/ says which one it means (scripts/spec-tags.mjs).
const tagProblems = checkSpecTagsTree('src')
for (const p of tagProblems) console.log(`${p.file}:${p.line}:${p.column}  error  spec tag: ${p.message}`)
if (tagProblems.length > 0) {
  console.log(`spec tags: ${tagProblems.length} errors`)
  process.exit(1)
}

const eslint = spawnSync(process.execPath, [bin('eslint', 'bin/eslint.js'), '.'], { stdio: 'inherit' })
if (eslint.status !== 0) process.exit(eslint.status ?? 1)

const knip = spawnSync(process.execPath, [bin('knip', 'bin/knip.js'), '--reporter', 'json', '--no-exit-code'], { encoding: 'utf8' })
if (knip.status !== 0 || !knip.stdout.trim().startsWith('{')) {
  process.stderr.write(knip.stdout + knip.stderr)
  process.exit(knip.status || 1)
}
const KINDS = ['files', 'dependencies', 'devDependencies', 'optionalPeerDependencies', 'unlisted', 'binaries', 'unresolved', 'exports', 'types', 'enumMembers', 'duplicates']
const errors = []
for (const issue of JSON.parse(knip.stdout).issues) {
  for (const kind of KINDS) {
    const list = issue[kind]
    for (const item of Array.isArray(list) ? list : []) {
      const where = item.line ? `${issue.file}:${item.line}` : issue.file
      const line = `knip: unused ${kind === 'files' ? 'file' : kind}: ${Array.isArray(item) ? item.map(i => i.name).join(', ') : item.name ?? ''} (${where})`
      errors.push(line)
    }
  }
}
for (const e of errors) console.log(`error   ${e}`)
console.log(`knip: ${errors.length} errors`)
process.exit(errors.length > 0 ? 1 : 0)
