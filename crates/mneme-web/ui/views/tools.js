// Placeholder: replaced by the view's implementation.
import { html } from "../lib.js";

export function Tools() {
  return html`<div class="empty">Tools</div>`;
}
