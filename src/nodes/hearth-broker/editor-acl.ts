/**
 * The ACL table of the broker node's edit dialog (browser only), its import from a Mosquitto ACL
 * file, and the line that says what a client without a user name may do.
 */
import { validTopicFilter } from '../../broker/topics'
import type { JQ } from '../shared/editor-red'
import { anonymousAccess } from './acl-rows'
import { el, mark, postJson, readFileText, t } from './editor-common'
import { ACL_ACCESS, ACL_WHO, TYPE, type AclRow, type AclRowAccess, type AclWho } from './types'

/** What is wrong with a row (a catalog key under hearth-broker.invalid.), or undefined. */
function aclRowProblem (r: AclRow): string | undefined {
  if (!ACL_WHO.includes(r.who) || !ACL_ACCESS.includes(r.access)) return 'acl-row'
  if (r.who === 'user' && String(r.user ?? '').trim() === '') return 'acl-user'
  const topic = String(r.topic ?? '').trim()
  if (topic === '' || /[\r\n]/.test(topic) || !validTopicFilter(topic)) return 'acl-topic'
  return undefined
}

export function aclProblem (rows: unknown): string | undefined {
  if (!Array.isArray(rows)) return undefined
  for (const r of rows as AclRow[]) {
    const p = aclRowProblem(r)
    if (p !== undefined) return p
  }
  return undefined
}

interface Row { who: JQ, user: JQ, access: JQ, topic: JQ }

function readRow (r: Row): AclRow {
  const who = String(r.who.val()) as AclWho
  const row: AclRow = { who, access: String(r.access.val()) as AclRowAccess, topic: String(r.topic.val() ?? '').trim() }
  if (who === 'user') row.user = String(r.user.val() ?? '').trim()
  return row
}

/** The summary of what anonymous clients may do, as text. */
export function anonymousSummary (allowAnonymous: boolean, aclEnabled: boolean, rows: AclRow[]): { text: string, level: 'ok' | 'warn' } {
  const a = anonymousAccess(allowAnonymous, aclEnabled, rows)
  if (a.kind === 'refused') return { text: t('anonymous.refused'), level: 'ok' }
  if (a.kind === 'everything') return { text: t('anonymous.everything'), level: 'warn' }
  const list = (topics: string[]): string => topics.length === 0 ? t('anonymous.nothing') : topics.join(', ')
  let text = t('anonymous.rules', { read: list(a.read), write: list(a.write) })
  if (a.deny.length > 0) text += ' ' + t('anonymous.deny', { deny: a.deny.join(', ') })
  return { text, level: 'ok' }
}

export function setupAcl (initial: AclRow[], onChange: () => void): () => AclRow[] {
  const list = $('#hearth-broker-acl')
  const read = (): AclRow[] => {
    const out: AclRow[] = []
    list.editableList('items').each(function () {
      const r = $(this).data('acl') as Row | undefined
      if (r !== undefined) out.push(readRow(r))
    })
    return out
  }

  list.editableList({
    addButton: t('label.addRule'),
    removable: true,
    sortable: true,
    height: 'auto',
    addItem (container, _index, data) {
      const r = (data.who !== undefined ? data : { who: 'anonymous', access: 'read', topic: '' }) as unknown as AclRow
      const line = el('<div style="display:flex;gap:6px;align-items:center"></div>').appendTo(container)
      const who = el('<select class="hearth-broker-acl-who" style="width:150px;flex:none"></select>').appendTo(line)
      for (const w of ACL_WHO) who.append(el('<option></option>').attr('value', w).text(t(`acl.who.${w}`)))
      const user = el('<input type="text" class="hearth-broker-acl-user" style="width:100px;flex:none">').attr('placeholder', t('placeholder.userName')).appendTo(line)
      const access = el('<select class="hearth-broker-acl-access" style="width:125px;flex:none"></select>').appendTo(line)
      for (const a of ACL_ACCESS) access.append(el('<option></option>').attr('value', a).text(t(`acl.access.${a}`)))
      const topic = el('<input type="text" class="hearth-broker-acl-topic" style="flex:1 1 120px;min-width:0;width:auto">').attr('placeholder', t('placeholder.aclTopic')).appendTo(line)
      const row: Row = { who, user, access, topic }
      container.data('acl', row)
      who.val(r.who)
      user.val(String(r.user ?? ''))
      access.val(r.access)
      topic.val(r.topic)
      const update = (): void => {
        const now = readRow(row)
        user.toggle(now.who === 'user')
        topic.attr('placeholder', now.who === 'pattern' ? 'devices/%u/#' : t('placeholder.aclTopic'))
        const problem = aclRowProblem(now)
        mark(user, problem !== 'acl-user')
        mark(topic, problem !== 'acl-topic')
        onChange()
      }
      for (const input of [who, user, access, topic]) {
        input.on('change', update)
        input.on('input', update)
      }
      update()
    },
    removeItem () { onChange() },
  })
  for (const r of initial) list.editableList('addItem', r as unknown as Record<string, unknown>)

  // Import a Mosquitto ACL file: its rules replace the table's.
  const result = $('#hearth-broker-acl-import-result')
  const file = $('#hearth-broker-acl-file')
  $('#hearth-broker-acl-import').on('click', (e) => { e.preventDefault(); file.trigger('click') })
  file.on('change', function () {
    const f = (this as HTMLInputElement).files?.[0]
    if (f === undefined) return
    readFileText(f)
      .then((text) => postJson(`${TYPE}/acl-file`, { text }))
      .then((answer) => {
        const rows = (answer.rows ?? []) as AclRow[]
        list.editableList('empty')
        for (const r of rows) list.editableList('addItem', r as unknown as Record<string, unknown>)
        const warnings = Array.isArray(answer.warnings) ? answer.warnings.length : 0
        result.text(t('import.rules', { count: rows.length, warnings })).css('color', '')
        $('#node-input-aclEnabled').prop('checked', true).trigger('change')
        onChange()
      }, (err: { error?: { code?: string, line?: number } }) => {
        result.text(t('import.failed', { code: err?.error?.code ?? '?', line: err?.error?.line ?? 0 })).css('color', 'var(--red-ui-text-color-error, #d00)')
      })
    ;(this as HTMLInputElement).value = ''
  })
  return read
}
