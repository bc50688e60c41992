/**
 * The slice of Node-RED's editor API (and jQuery) the Hearth editors use. Browser only; typed
 * here so the package needs no extra type dependency.
 */

/**
 * A jQuery collection, reduced to the calls the editors make.
 * @public Used through the globals declared in editor-globals.d.ts.
 */
export interface JQ {
  val (): string | number | string[] | undefined
  val (value: string | number): JQ
  prop (name: string): unknown
  prop (name: string, value: unknown): JQ
  is (selector: string): boolean
  on (event: string, handler: (this: HTMLElement, e: Event) => void): JQ
  change (): JQ
  toggle (show: boolean): JQ
  show (): JQ
  hide (): JQ
  empty (): JQ
  append (content: JQ | string): JQ
  find (selector: string): JQ
  closest (selector: string): JQ
  text (value: string): JQ
  attr (name: string, value: string): JQ
  length: number
}

/** @public Used through the globals declared in editor-globals.d.ts. */
export type JQStatic = (selector: string | HTMLElement) => JQ

/** A node definition property: default value, required flag, validator, config node type. */
export interface EditorPropDef {
  value: unknown
  required?: boolean
  type?: string
  validate? (this: EditorNodeInstance, value: unknown): boolean
}

/** @public Used through the globals declared in editor-globals.d.ts. */
export interface EditorNodeInstance {
  id: string
  type: string
  name?: string
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
  oneditsave? (this: EditorNodeInstance): void
}

/** @public Used through the globals declared in editor-globals.d.ts. */
export interface EditorRED {
  nodes: {
    registerType (type: string, def: EditorNodeDef): void
    eachNode (cb: (node: EditorNodeInstance) => boolean | void): void
    node (id: string): EditorNodeInstance | null
  }
  _ (key: string, subs?: Record<string, string | number>): string
}
