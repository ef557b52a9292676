// Placeholder: replaced by the view's implementation.
import { html } from "../lib.js";

export function CreateAgent() {
  return html`<div class="empty">CreateAgent</div>`;
}
