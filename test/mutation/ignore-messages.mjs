// Stryker ignorer "human-text": mutants in text that is only read by people are not counted.
// The core's contract (README "Errors carry codes") is that callers test `code` / `reasonCode`,
// never an error's message or a warning's wording, so mutating those strings changes nothing a
// client, the CLI or a node can observe. Ignored (status "Ignored", outside the score):
//   - a string or template argument of `new SomethingError(...)` and `reasonError(...)`, except a
//     code-shaped literal (UPPER_SNAKE, e.g. 'HEARTH_STORE_BUSY', 'PWFILE_SYNTAX'), which stays mutated;
//   - the first (message) argument of `warn(...)` / `x.warn(...)`;
//   - the body of `render()` in src/broker/access/errors.ts, which only builds AccessFileError's message.
// Everything else, including whether an error is thrown or a warning emitted, is mutated.
import { PluginKind, declareValuePlugin } from '@stryker-mutator/api/plugin'

const CODE = /^[A-Z][A-Z0-9_]+$/

function calleeName (callee) {
  if (callee.type === 'Identifier') return callee.name
  if (callee.type === 'MemberExpression' && callee.property.type === 'Identifier') return callee.property.name
  return undefined
}

function isText (node) {
  if (node.type === 'TemplateLiteral') return true
  return node.type === 'StringLiteral' && !CODE.test(node.value)
}

const humanText = {
  shouldIgnore (path) {
    const { node, parent } = path
    if (node.type === 'FunctionDeclaration' && node.id?.name === 'render' &&
      /access[\\/]errors\.ts$/.test(path.hub?.file?.opts?.filename ?? '')) {
      return 'render() only formats the message of AccessFileError; callers read its code, line, file and user'
    }
    if (parent === null || parent === undefined || !isText(node)) return undefined
    if (parent.type !== 'NewExpression' && parent.type !== 'CallExpression') return undefined
    if (!parent.arguments.includes(node)) return undefined
    const name = calleeName(parent.callee)
    if (name === undefined) return undefined
    if (parent.type === 'NewExpression' && /Error$/.test(name)) return `message text of ${name} (callers test its code, not its wording)`
    if (parent.type === 'CallExpression' && name === 'reasonError') return 'message text of a ReasonError (callers test reasonCode)'
    if (parent.type === 'CallExpression' && name === 'warn' && parent.arguments[0] === node) return 'wording of a warning (the warning itself is still mutated)'
    return undefined
  },
}

export const strykerPlugins = [declareValuePlugin(PluginKind.Ignore, 'human-text', humanText)]
