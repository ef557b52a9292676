// Placeholder: replaced by the view's implementation.
import { html } from "../lib.js";

export function Archival() {
  return html`<div class="empty">Archival</div>`;
}
