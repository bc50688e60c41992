import type { Node, NodeStatus } from './red'

/**
 * One place for node status. Connection states reuse Node-RED's own catalog
 * (`node-red:common.status.*`) so they read the same as core nodes in every language.
 */
export type StatusState = 'connected' | 'connecting' | 'disconnected' | 'waiting' | 'ok' | 'warning' | 'error' | 'clear'

const COMMON: Record<string, string> = {
  connected: 'node-red:common.status.connected',
  connecting: 'node-red:common.status.connecting',
  disconnected: 'node-red:common.status.disconnected',
}

/** Build the status object for a state; `text` (already translated) overrides the default label. */
function statusFor (state: StatusState, text?: string): NodeStatus | Record<string, never> {
  switch (state) {
    case 'connected': return { fill: 'green', shape: 'dot', text: text ?? COMMON.connected }
    case 'ok': return { fill: 'green', shape: 'dot', text: text ?? '' }
    // Running, with something the user should know (a broker open to anyone).
    case 'warning': return { fill: 'yellow', shape: 'dot', text: text ?? '' }
    case 'connecting': return { fill: 'yellow', shape: 'ring', text: text ?? COMMON.connecting }
    case 'waiting': return { fill: 'yellow', shape: 'ring', text: text ?? COMMON.connecting }
    case 'disconnected': return { fill: 'red', shape: 'ring', text: text ?? COMMON.disconnected }
    case 'error': return { fill: 'red', shape: 'ring', text: text ?? 'node-red:common.status.error' }
    case 'clear': return {}
  }
}

/** Set a node's status. */
export function setStatus (node: Pick<Node, 'status'>, state: StatusState, text?: string): void {
  node.status(statusFor(state, text))
}
