// Placeholder: replaced by the view's implementation.
import { html } from "../lib.js";

export function Runs() {
  return html`<div class="empty">Runs</div>`;
}
