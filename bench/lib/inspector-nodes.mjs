// Start and stop one of V8's profilers inside the bench's Node-RED (bench/node-red.mjs flows), around a measured run
// only: two http endpoints, POST /bench/<name>/start and /bench/<name>/stop, whose function nodes drive a
// node:inspector session kept in global context; stop answers with the profile.

const TAB = 'bench-tab'

/**
 * The flow nodes for one profiler. `start` is the inspector calls that start it, as function-node code that ends by
 * calling `done()`; `stop` is the method that stops it and returns `{ profile }`.
 */
export function inspectorNodes (name, start, stop) {
  const key = `bench-${name}`
  return [
    { id: `${name}-start-in`, type: 'http in', z: TAB, url: `/bench/${name}/start`, method: 'post', upload: false, wires: [[`${name}-start`]] },
    {
      id: `${name}-start`, type: 'function', z: TAB, outputs: 1,
      func: "const s = new (global.get('benchInspector').Session)(); s.connect();\n" +
        `const done = () => { global.set('${key}', s); msg.payload = { ok: true }; node.send(msg) };\n${start}\nreturn null;`,
      wires: [[`${name}-out`]]
    },
    { id: `${name}-stop-in`, type: 'http in', z: TAB, url: `/bench/${name}/stop`, method: 'post', upload: false, wires: [[`${name}-stop`]] },
    {
      id: `${name}-stop`, type: 'function', z: TAB, outputs: 1,
      func: `const s = global.get('${key}');\n` +
        `s.post('${stop}', (err, r) => { s.disconnect(); msg.payload = err ? { error: String(err) } : r.profile; node.send(msg) });\nreturn null;`,
      wires: [[`${name}-out`]]
    },
    { id: `${name}-out`, type: 'http response', z: TAB, statusCode: '', headers: {}, wires: [] }
  ]
}

/** POST to one of the endpoints; resolves with the JSON answer. */
export async function post (nr, path) {
  const r = await fetch(`${nr.base}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(60000) })
  if (!r.ok) throw new Error(`POST ${path}: ${r.status}`)
  return await r.json()
}
