// Placeholder: replaced by the view's implementation.
import { html } from "../lib.js";

export function AgentList() {
  return html`<div class="empty">AgentList</div>`;
}
