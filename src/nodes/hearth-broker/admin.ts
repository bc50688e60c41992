/**
 * Admin HTTP routes for the broker node's editor (RED.httpAdmin, behind Node-RED's admin auth):
 *   GET  /hearth-broker/:id/users       names of the users that have a password stored (never a hash)
 *   POST /hearth-broker/password-file   {text}: a mosquitto_passwd file, checked by the core's parser
 *   POST /hearth-broker/acl-file        {text}: a Mosquitto ACL file, as table rows
 * A file that does not parse is answered {error: {code, line, user}}.
 * The files are parsed here so the editor shows the same line-numbered errors the core gives.
 */
import { AccessFileError, parseAclFile, parsePasswordFile } from '../../broker'
import type { HttpHandler, HttpResponse, NodeAPI } from '../shared/red'
import { ruleToRow } from './acl-rows'
import { usersWithPassword } from './accounts'

/** Uploaded files larger than this are refused. */
const MAX_FILE_CHARS = 1 << 20

function fileText (body: unknown, res: HttpResponse): string | undefined {
  const text = (body as { text?: unknown } | undefined)?.text
  if (typeof text !== 'string') { res.status(400).json({ error: { code: 'NO_TEXT' } }); return undefined }
  if (text.length > MAX_FILE_CHARS) { res.status(413).json({ error: { code: 'TOO_LARGE', max: MAX_FILE_CHARS } }); return undefined }
  return text
}

/** A file that does not parse is an answer, not a failed request (a 4xx would be a console error in the editor). */
function refuse (res: HttpResponse, err: unknown): void {
  if (!(err instanceof AccessFileError)) throw err
  res.json({ error: { code: err.code, line: err.line, user: err.user } })
}

export function registerAdminRoutes (RED: NodeAPI, type: string): void {
  const app = RED.httpAdmin
  // No admin routes (httpAdminRoot false, or an embedding without them): the editor is not served either.
  if (app === undefined || typeof app.get !== 'function' || typeof app.post !== 'function') return
  const allow = (permission: string): HttpHandler => RED.auth?.needsPermission(permission) ?? ((_req, _res, next) => next())

  app.get(`/${type}/:id/users`, allow('hearth.read'), (req, res) => {
    const creds = RED.nodes.getCredentials?.(req.params.id)
    res.json({ users: usersWithPassword(creds) })
  })

  app.post(`/${type}/password-file`, allow('hearth.write'), (req, res) => {
    const text = fileText(req.body, res)
    if (text === undefined) return
    try {
      res.json({ users: parsePasswordFile(text).map(e => ({ username: e.username, hash: e.hash })) })
    } catch (err) {
      refuse(res, err)
    }
  })

  app.post(`/${type}/acl-file`, allow('hearth.write'), (req, res) => {
    const text = fileText(req.body, res)
    if (text === undefined) return
    try {
      const acl = parseAclFile(text)
      res.json({ rows: acl.rules.map(ruleToRow), warnings: acl.warnings })
    } catch (err) {
      refuse(res, err)
    }
  })
}
