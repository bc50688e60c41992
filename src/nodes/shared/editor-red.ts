/**
 * The slice of Node-RED's editor API (and jQuery) the Hearth editors use. Browser only; typed
 * here so the package needs no extra type dependency.
 */

/** Options of Node-RED's editableList widget. */
interface EditableListOptions {
  addItem (container: JQ, index: number, data: Record<string, unknown>): void
  removable?: boolean
  sortable?: boolean | string
  height?: number | 'auto'
  header?: JQ
  addButton?: boolean | string
  removeItem? (data: Record<string, unknown>): void
  sortItems? (items: JQ): void
}

/** A jQuery collection, reduced to the calls the editors make. */
export interface JQ {
  val (): string | number | string[] | undefined
  val (value: string | number): JQ
  prop (name: string): unknown
  prop (name: string, value: unknown): JQ
  is (selector: string): boolean
  on (event: string, handler: (this: HTMLElement, e: Event) => void): JQ
  change (): JQ
  trigger (event: string): JQ
  toggle (show: boolean): JQ
  show (): JQ
  hide (): JQ
  empty (): JQ
  remove (): JQ
  append (content: JQ | string): JQ
  appendTo (target: JQ | string): JQ
  find (selector: string): JQ
  closest (selector: string): JQ
  first (): JQ
  text (): string
  text (value: string): JQ
  attr (name: string): string | undefined
  attr (name: string, value: string): JQ
  addClass (name: string): JQ
  removeClass (name: string): JQ
  toggleClass (name: string, on: boolean): JQ
  css (name: string, value: string): JQ
  data (key: string): unknown
  data (key: string, value: unknown): JQ
  each (fn: (this: HTMLElement, index: number, element: HTMLElement) => void): JQ
  editableList (options: EditableListOptions): JQ
  editableList (method: 'addItem', data: Record<string, unknown>): JQ
  editableList (method: 'items'): JQ
  editableList (method: 'empty'): JQ
  editableList (method: 'height', height: number): JQ
  0: HTMLElement | undefined
  length: number
}

/** @public Used through the globals declared in editor-globals.d.ts. */
export interface JQStatic {
  (selector: string | HTMLElement): JQ
  ajax (options: { url: string, method?: string, contentType?: string, data?: string, dataType?: string }): PromiseLike<unknown>
}

/** A node definition property: default value, required flag, validator, config node type. */
export interface EditorPropDef {
  value: unknown
  required?: boolean
  type?: string
  validate? (this: EditorNodeInstance, value: unknown, opt?: unknown): boolean | string
}

/** @public Used through the globals declared in editor-globals.d.ts. */
export interface EditorNodeInstance {
  id: string
  type: string
  name?: string
  credentials?: Record<string, unknown>
  _ (key: string, subs?: Record<string, string | number>): string
  [key: string]: unknown
}

interface EditorNodeDef {
  category: string
  color?: string
  defaults: Record<string, EditorPropDef>
  credentials?: Record<string, { type: 'text' | 'password' }>
  inputs?: number
  outputs?: number
  icon?: string
  align?: 'left' | 'right'
  paletteLabel? (this: EditorNodeInstance): string
  label? (this: EditorNodeInstance): string
  labelStyle? (this: EditorNodeInstance): string
  inputLabels? (this: EditorNodeInstance): string
  outputLabels? (this: EditorNodeInstance, index: number): string
  oneditprepare? (this: EditorNodeInstance): void
  oneditsave? (this: EditorNodeInstance): void | boolean
  oneditcancel? (this: EditorNodeInstance): void
  oneditresize? (this: EditorNodeInstance, size: { width: number, height: number }): void
}

interface EditorTabs {
  addTab (tab: { id: string, label: string }): void
  activateTab (id: string): void
}

/** @public Used through the globals declared in editor-globals.d.ts. */
export interface EditorRED {
  nodes: {
    registerType (type: string, def: EditorNodeDef): void
    eachNode (cb: (node: EditorNodeInstance) => boolean | void): void
    node (id: string): EditorNodeInstance | null
    /** A registered type's definition; `_` translates with the type's catalog. */
    getType (type: string): { _?: (key: string, subs?: Record<string, string | number>) => string } | undefined
  }
  tabs: {
    create (options: { id: string, onchange (tab: { id: string }): void }): EditorTabs
  }
  settings: Record<string, unknown>
  _ (key: string, subs?: Record<string, string | number>): string
}
