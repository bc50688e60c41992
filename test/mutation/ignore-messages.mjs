// Stryker ignorer "human-text": mutants in text that is only read by people are not counted.
// The core's contract (README "Errors carry codes") is that callers test `code` / `reasonCode`,
// never an error's message or a warning's wording, so mutating those strings changes nothing a
// client, the CLI or a node can observe. Ignored (status "Ignored", outside the score):
//   - a string or template argument of `new SomethingError(...)` and `reasonError(...)`, except a
//     code-shaped literal (UPPER_SNAKE, e.g. 'HEARTH_STORE_BUSY', 'PWFILE_SYNTAX'), which stays mutated;
//   - the first (message) argument of `warn(...)` / `x.warn(...)`;
//   - the reason text of `conn.close(text, code)` and of `refuse(conn, code, text)` in the CONNECT
//     handler: it only reaches the clientDisconnected event's `reason` (its `reasonCode` carries
//     the meaning) and, for a ProtocolError, MQTT 5's Reason String, which is "a human readable
//     string designed for diagnostics" that the receiver "SHOULD NOT parse" (MQTT 5 section 3.14.2.2.3);
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
    const { node } = path
    if (node.type === 'FunctionDeclaration' && node.id?.name === 'render' &&
      /access[\\/]errors\.ts$/.test(path.hub?.file?.opts?.filename ?? '')) {
      return 'render() only formats the message of AccessFileError; callers read its code, line, file and user'
    }
    if (!isText(node)) return undefined
    // the argument this text is, or is a branch of (`c ? 'x' : 'y'`, `a ?? 'x'`)
    let arg = path
    while (arg.parentPath && (arg.parent.type === 'ConditionalExpression' ? arg.parent.test !== arg.node : arg.parent.type === 'LogicalExpression')) arg = arg.parentPath
    const call = arg.parent
    if (!call || (call.type !== 'NewExpression' && call.type !== 'CallExpression')) return undefined
    const index = call.arguments.indexOf(arg.node)
    if (index < 0) return undefined
    const name = calleeName(call.callee)
    if (name === undefined) return undefined
    if (call.type === 'NewExpression' && /Error$/.test(name)) return `message text of ${name} (callers test its code, not its wording)`
    if (call.type !== 'CallExpression') return undefined
    if (name === 'reasonError') return 'message text of a ReasonError (callers test reasonCode)'
    if (name === 'warn' && index === 0) return 'wording of a warning (the warning itself is still mutated)'
    if (name === 'close' && index === 0) return 'reason text of a close (the event carries reasonCode)'
    if (name === 'refuse' && index === 2) return 'reason text of a refused CONNECT (the CONNACK carries the code)'
    return undefined
  },
}

export const strykerPlugins = [declareValuePlugin(PluginKind.Ignore, 'human-text', humanText)]
