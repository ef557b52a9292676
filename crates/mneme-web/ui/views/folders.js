// Placeholder: replaced by the view's implementation.
import { html } from "../lib.js";

export function Folders() {
  return html`<div class="empty">Folders</div>`;
}
