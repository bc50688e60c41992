/**
 * A small live line plot in plain SVG (browser only): one or two series over the last HISTORY_POINTS
 * seconds, scaled to the largest value shown, redrawn in place. No charting library: the editor's
 * own d3 is version 3 in Node-RED 4.1 and not promised to stay, and two polylines need none.
 */
import { HISTORY_POINTS } from '../monitoring'
import { h, short, svg } from './editor-dom'

const W = 300
const H = 60

export interface Series { label: string, color: string }

export class Plot {
  readonly el: HTMLElement
  private readonly lines: SVGElement[]
  private readonly values: HTMLElement[]
  private readonly max: HTMLElement

  constructor (id: string, title: string, private readonly series: Series[]) {
    const box = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', width: '100%', height: H, class: 'hearth-plot-svg' })
    box.append(svg('rect', { x: 0, y: 0, width: W, height: H, fill: 'none', stroke: 'var(--red-ui-secondary-border-color, #ddd)' }))
    this.lines = series.map(s => {
      const l = svg('polyline', { fill: 'none', stroke: s.color, 'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke', points: '' })
      box.append(l)
      return l
    })
    this.values = series.map(s => h('span', { class: 'hearth-plot-value', style: `color:${s.color};margin-left:8px` }))
    this.max = h('span', { class: 'hearth-plot-max', style: 'float:right;opacity:0.7' })
    const legend = h('div', { class: 'hearth-plot-legend', style: 'font-size:11px' }, h('b', { text: title }), ...series.flatMap((s, i) => [h('span', { text: ` ${s.label}`, style: 'margin-left:8px;opacity:0.8' }), this.values[i]]), this.max)
    this.el = h('div', { id, class: 'hearth-plot', style: 'margin:4px 0 8px' }, legend, box as unknown as Node)
  }

  /** Draw `points` (oldest first, one per second, each with a value per series). */
  draw (points: number[][]): void {
    const shown = points.slice(-HISTORY_POINTS)
    let max = 0
    for (const p of shown) for (const v of p) if (v > max) max = v
    const top = max > 0 ? max * 1.1 : 1
    const step = W / (HISTORY_POINTS - 1)
    const offset = HISTORY_POINTS - shown.length
    this.series.forEach((_s, i) => {
      const pts = shown.map((p, x) => `${((offset + x) * step).toFixed(1)},${(H - (p[i] / top) * H).toFixed(1)}`).join(' ')
      this.lines[i].setAttribute('points', pts)
      const last = shown[shown.length - 1]
      this.values[i].textContent = last === undefined ? '–' : short(last[i])
    })
    this.max.textContent = `max ${short(max)}`
  }
}
