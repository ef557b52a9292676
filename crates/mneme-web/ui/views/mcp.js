// Placeholder: replaced by the view's implementation.
import { html } from "../lib.js";

export function McpServers() {
  return html`<div class="empty">McpServers</div>`;
}
