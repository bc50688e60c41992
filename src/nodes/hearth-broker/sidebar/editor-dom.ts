/** Tiny DOM helpers for the sidebar (browser only): text is always set as text, never as HTML. */

type Attrs = Record<string, string | number | boolean | undefined>

/** An element with attributes (`class`, `title`, ...; `text` sets its text) and children. */
export function h (tag: string, attrs: Attrs = {}, ...children: Array<Node | string | undefined>): HTMLElement {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue
    if (k === 'text') e.textContent = String(v)
    else e.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) if (c !== undefined) e.append(c)
  return e
}

/** An SVG element. */
export function svg (tag: string, attrs: Attrs = {}): SVGElement {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) e.setAttribute(k, String(v))
  return e
}

/** A number for people: 1234 -> "1.2k". */
export function short (n: number): string {
  const a = Math.abs(n)
  if (a >= 1e9) return `${(n / 1e9).toFixed(1)}G`
  if (a >= 1e6) return `${(n / 1e6).toFixed(1)}M`
  if (a >= 1e4) return `${Math.round(n / 1e3)}k`
  if (a >= 1e3) return `${(n / 1e3).toFixed(1)}k`
  return String(Math.round(n * 10) / 10)
}
