// Table filters: <input data-filter="TABLE_ID"> hides rows of #TABLE_ID (tr.row) that do not contain
// the text, and every [data-count="TABLE_ID"] shows how many rows are visible.
"use strict";
function applyFilter(input) {
  const id = input.dataset.filter;
  const q = input.value.trim().toLowerCase();
  let shown = 0;
  for (const tr of document.querySelectorAll(`#${id} tr.row`)) {
    const hit = !q || tr.textContent.toLowerCase().includes(q);
    tr.style.display = hit ? "" : "none";
    if (hit) shown += 1;
  }
  for (const el of document.querySelectorAll(`[data-count="${id}"]`)) el.textContent = shown.toLocaleString("en-US");
}
document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("input[data-filter]")) {
    input.addEventListener("input", () => applyFilter(input));
    applyFilter(input);
  }
});
