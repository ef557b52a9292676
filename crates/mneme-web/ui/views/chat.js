// Placeholder: replaced by the view's implementation.
import { html } from "../lib.js";

export function Chat() {
  return html`<div class="empty">Chat</div>`;
}
