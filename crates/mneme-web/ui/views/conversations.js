// Placeholder: replaced by the view's implementation.
import { html } from "../lib.js";

export function Conversations() {
  return html`<div class="empty">Conversations</div>`;
}
