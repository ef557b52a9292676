// Placeholder: replaced by the view's implementation.
import { html } from "../lib.js";

export function Groups() {
  return html`<div class="empty">Groups</div>`;
}
