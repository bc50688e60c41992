// Stryker reporter "live": appends one line per tested mutant to reports/mutation/live.tsv while
// the run goes (status, file:line:column, mutator, replacement), so that survivors can be studied
// before a long run ends.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { PluginKind, declareClassPlugin } from '@stryker-mutator/api/plugin'

const FILE = 'reports/mutation/live.tsv'

class LiveReporter {
  onMutationTestingPlanReady () {
    mkdirSync('reports/mutation', { recursive: true })
    writeFileSync(FILE, '')
  }

  onMutantTested (m) {
    const where = `${m.fileName}:${m.location.start.line}:${m.location.start.column + 1}`
    const replacement = (m.replacement ?? '').replace(/\s+/g, ' ').slice(0, 160)
    appendFileSync(FILE, `${m.status}\t${where}\t${m.mutatorName}\t${replacement}\n`)
  }
}

export const strykerPlugins = [declareClassPlugin(PluginKind.Reporter, 'live', LiveReporter)]
