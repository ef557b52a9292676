// SVG charts drawn by hand: a stacked bar (parts of a whole, e.g. the context window) and a
// time series (points over time, e.g. step latency). No chart library: these two are enough.
import { html } from "./lib.js";
import { fmtNumber } from "./components.js";

export const PALETTE = ["#4f46e5", "#0891b2", "#16a34a", "#ca8a04", "#dc2626", "#9333ea", "#64748b"];

/**
 * One horizontal bar of `parts` ([{label, value, color?}]) against `total` (the rest drawn
 * empty), with a legend giving each part's value and share.
 */
export function StackedBar({ parts, total, unit = "tokens", label }) {
  const sum = parts.reduce((s, p) => s + (p.value || 0), 0);
  const whole = Math.max(total || 0, sum, 1);
  let x = 0;
  return html`<figure class="stacked-bar" aria-label=${label}>
    <svg viewBox="0 0 1000 40" preserveAspectRatio="none" role="img">
      <rect x="0" y="0" width="1000" height="40" class="bar-rest" />
      ${parts.map((p, i) => {
        const w = ((p.value || 0) / whole) * 1000;
        const rect = html`<rect key=${p.label} x=${x} y="0" width=${w} height="40"
          fill=${p.color || PALETTE[i % PALETTE.length]}><title>${p.label}: ${fmtNumber(p.value)} ${unit}</title></rect>`;
        x += w;
        return rect;
      })}
    </svg>
    <figcaption>
      <ul class="legend">
        ${parts.map(
          (p, i) => html`<li key=${p.label} data-part=${p.label}>
            <span class="swatch" style=${`background:${p.color || PALETTE[i % PALETTE.length]}`}></span>
            ${p.label} <b>${fmtNumber(p.value)}</b>${" "}<span class="muted">${((100 * (p.value || 0)) / whole).toFixed(1)}%</span>
          </li>`,
        )}
      </ul>
      <div class="muted">${fmtNumber(sum)} of ${fmtNumber(total)} ${unit} used</div>
    </figcaption>
  </figure>`;
}

/**
 * A time series: `points` [{t: Date|string, y: number, title?}] drawn as bars over time order
 * (one bar per point, evenly spaced: runs are events, not a continuous signal), with the
 * y axis labelled by its maximum.
 */
export function SeriesChart({ points, label, unit = "", color = PALETTE[0], height = 120 }) {
  if (!points.length) return html`<div class="empty">No data yet.</div>`;
  const max = Math.max(...points.map((p) => p.y || 0), 1);
  const width = 600;
  const step = width / points.length;
  const bar = Math.max(1, step * 0.7);
  return html`<figure class="series-chart" aria-label=${label}>
    <figcaption>${label} <span class="muted">(max ${fmtNumber(Math.round(max))} ${unit})</span></figcaption>
    <svg viewBox=${`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img">
      <line x1="0" y1=${height - 0.5} x2=${width} y2=${height - 0.5} class="axis" />
      ${points.map((p, i) => {
        const h = ((p.y || 0) / max) * (height - 4);
        return html`<rect key=${i} x=${i * step + (step - bar) / 2} y=${height - h} width=${bar} height=${h}
          fill=${color}><title>${p.title || ""} ${fmtNumber(Math.round(p.y))} ${unit}</title></rect>`;
      })}
    </svg>
  </figure>`;
}
