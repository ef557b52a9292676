// Placeholder: replaced by the view's implementation.
import { html } from "../lib.js";

export function AgentSettings() {
  return html`<div class="empty">AgentSettings</div>`;
}
