// Placeholder: replaced by the view's implementation.
import { html } from "../lib.js";

export function ContextView() {
  return html`<div class="empty">ContextView</div>`;
}
