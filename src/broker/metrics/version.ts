/*
 * The package's version, for $SYS/broker/version and hearth_info: read once from the package.json
 * above this file (dist/broker/ when bundled, src/broker/metrics/ from source).
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

const PACKAGE = '@hearth/node-red-mqtt'
let cached: string | undefined

export function hearthVersion (): string {
  if (cached !== undefined) return cached
  cached = 'unknown'
  let dir = __dirname
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown, version?: unknown }
      if (pkg.name === PACKAGE && typeof pkg.version === 'string') { cached = pkg.version; break }
    } catch { /* none here: look further up */ }
    const up = dirname(dir)
    if (up === dir) break
    dir = up
  }
  return cached
}
