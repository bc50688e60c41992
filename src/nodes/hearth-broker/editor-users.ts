/**
 * The users table of the broker node's edit dialog (browser only). Passwords are never shown or
 * sent back: the runtime only tells which users have one. A password typed here (or a hash
 * imported from a mosquitto_passwd file) goes to the runtime once, in the `newPasswords`
 * credential, and is hashed there.
 */
import type { EditorNodeInstance, JQ } from '../shared/editor-red'
import { el, getJson, mark, postJson, readFileText, t } from './editor-common'
import { TYPE, validUserName, type PasswordChange } from './types'

interface UserRow {
  name: JQ
  password: JQ
  state: JQ
  /** The name when the dialog opened (a pending change or a stored hash belongs to it). */
  original: string
  imported: string | undefined
}

export interface UsersResult {
  /** undefined: leave the node's list as it is (a flow saved before the users table, not loaded yet). */
  names: string[] | undefined
  changes: Record<string, PasswordChange>
}

/** Is the users list valid (names valid and unique)? */
export function usersProblem (list: unknown): string | undefined {
  if (list === undefined) return undefined
  if (!Array.isArray(list)) return 'users'
  const seen = new Set<string>()
  for (const n of list) {
    if (typeof n !== 'string' || !validUserName(n)) return 'user-name'
    if (seen.has(n)) return 'user-duplicate'
    seen.add(n)
  }
  return undefined
}

function pendingOf (creds: Record<string, unknown> | undefined): Record<string, PasswordChange> {
  const v = creds?.newPasswords
  if (typeof v !== 'string' || v === '' || v === '__PWRD__') return {}
  try {
    const o: unknown = JSON.parse(v)
    return typeof o === 'object' && o !== null ? o as Record<string, PasswordChange> : {}
  } catch {
    return {}
  }
}

export function setupUsers (node: EditorNodeInstance, onChange: () => void): () => UsersResult {
  const pending = pendingOf(node.credentials)
  let stored = new Set<string>()
  const legacy = !Array.isArray(node.usernames)
  let loaded = !legacy
  const list = $('#hearth-broker-users')

  const rowsNow = (): UserRow[] => {
    const out: UserRow[] = []
    list.editableList('items').each(function () {
      const r = $(this).data('user') as UserRow | undefined
      if (r !== undefined) out.push(r)
    })
    return out
  }

  const refresh = (): void => {
    const rows = rowsNow()
    const names = rows.map(r => String(r.name.val() ?? '').trim())
    rows.forEach((r, i) => {
      const name = names[i]
      mark(r.name, validUserName(name) && names.indexOf(name) === i)
      const typed = String(r.password.val() ?? '') !== ''
      const renamed = name !== r.original
      let state: string
      let ok = true
      if (typed) state = 'new'
      else if (r.imported !== undefined) state = 'imported'
      else if (pending[r.original] !== undefined) state = 'hash' in pending[r.original] ? 'imported' : 'new'
      else if (!renamed && stored.has(name)) state = 'set'
      else { state = 'missing'; ok = false }
      r.state.text(t(`user.${state}`)).css('color', ok ? '' : 'var(--red-ui-text-color-error, #d00)')
      r.password.attr('placeholder', state === 'set' ? t('placeholder.unchanged') : t('placeholder.newPassword'))
    })
    onChange()
  }

  list.editableList({
    addButton: t('label.addUser'),
    removable: true,
    sortable: true,
    height: 'auto',
    addItem (container, _index, data) {
      const line = el('<div style="display:flex;gap:6px;align-items:center"></div>').appendTo(container)
      const name = el('<input type="text" class="hearth-broker-user-name" autocomplete="off" style="width:150px;flex:none">').attr('placeholder', t('placeholder.userName')).appendTo(line)
      const password = el('<input type="password" class="hearth-broker-user-password" autocomplete="new-password" style="width:150px;flex:none">').appendTo(line)
      const state = el('<span class="hearth-broker-user-state" style="font-size:0.9em"></span>').appendTo(line)
      const original = typeof data.name === 'string' ? data.name : ''
      const row: UserRow = { name, password, state, original, imported: typeof data.hash === 'string' ? data.hash : undefined }
      name.val(original)
      container.data('user', row)
      name.on('input', refresh)
      name.on('change', refresh)
      password.on('input', refresh)
      password.on('change', refresh)
      refresh()
    },
    removeItem () { refresh() },
  })

  const add = (names: string[]): void => {
    for (const name of names) list.editableList('addItem', { name })
  }
  if (!legacy) add(node.usernames as string[])
  getJson(`${TYPE}/${encodeURIComponent(node.id)}/users`).then((answer) => {
    stored = new Set(Array.isArray(answer.users) ? answer.users as string[] : [])
    if (legacy && !loaded) {
      const names = [...stored]
      const old = node.credentials?.username
      if (typeof old === 'string' && old !== '' && !names.includes(old)) names.push(old)
      add(names)
      loaded = true
    }
    refresh()
  }, () => {
    // No answer (no access?): nothing is known to be stored. A flow saved before the users table keeps
    // its accounts as they are (`loaded` stays false), rather than losing them on save.
    refresh()
  })

  // Import a mosquitto_passwd file: its hashes are taken as they are.
  const result = $('#hearth-broker-users-import-result')
  const file = $('#hearth-broker-passwd-file')
  $('#hearth-broker-users-import').on('click', (e) => { e.preventDefault(); file.trigger('click') })
  file.on('change', function () {
    const f = (this as HTMLInputElement).files?.[0]
    if (f === undefined) return
    readFileText(f)
      .then((text) => postJson(`${TYPE}/password-file`, { text }))
      .then((answer) => {
        const users = (answer.users ?? []) as Array<{ username: string, hash: string }>
        const rows = rowsNow()
        for (const u of users) {
          const row = rows.find(r => String(r.name.val() ?? '').trim() === u.username)
          if (row !== undefined) row.imported = u.hash
          else list.editableList('addItem', { name: u.username, hash: u.hash })
        }
        result.text(t('import.users', { count: users.length })).css('color', '')
        refresh()
      }, (err: { error?: { code?: string, line?: number } }) => {
        result.text(t('import.failed', { code: err?.error?.code ?? '?', line: err?.error?.line ?? 0 })).css('color', 'var(--red-ui-text-color-error, #d00)')
      })
    ;(this as HTMLInputElement).value = ''
  })

  return () => {
    if (!loaded) return { names: undefined, changes: pending }
    const changes: Record<string, PasswordChange> = {}
    const names: string[] = []
    for (const r of rowsNow()) {
      const name = String(r.name.val() ?? '').trim()
      names.push(name)
      const typed = String(r.password.val() ?? '')
      if (typed !== '') changes[name] = { password: typed }
      else if (r.imported !== undefined) changes[name] = { hash: r.imported }
      else if (pending[r.original] !== undefined) changes[name] = pending[r.original]
    }
    return { names, changes }
  }
}
