// The audit browser: the trail with its filters, one entry with its chain hashes, and a
// check of the whole chain (GET /audit/verify) that names the first bad position.
import { API, el, fieldsOf, getJson, showError, table, when } from "./common.js";

const form = document.getElementById("filters");
const entriesNode = document.getElementById("entries");
const entryNode = document.getElementById("entry");
const verifyButton = document.getElementById("verify");
const verifyResult = document.getElementById("verify-result");
let nextCursor = null;

function filters() {
  const values = fieldsOf(form);
  for (const key of ["from", "to"]) { // datetime-local has no offset: the browser's own
    if (values[key]) values[key] = new Date(values[key]).toISOString();
  }
  return values;
}

function row(entry) {
  return el("tr", { "data-position": entry.position, class: `outcome-${entry.outcome}` },
    el("td", { class: "number" },
      el("button", { type: "button", class: "link", onclick: () => showEntry(entry.position) },
        String(entry.position))),
    el("td", {}, when(entry.recordedAt || entry.occurredAt)),
    el("td", {}, entry.kind),
    el("td", {}, entry.action),
    el("td", {}, entry.outcome),
    el("td", {}, entry.actorId || ""),
    el("td", {}, entry.actorRole || ""),
    el("td", {}, entry.patientRef || (entry.patientRefs || []).join(", ")),
    el("td", {}, entry.aggregateType));
}

async function showEntries(append = false) {
  try {
    const page = await getJson(`${API}/audit/events`, { ...filters(), cursor: append ? nextCursor : undefined });
    nextCursor = page.nextCursor;
    const rows = page.items.map(row);
    const existing = append ? entriesNode.querySelector("tbody") : null;
    if (existing) existing.append(...rows);
    else {
      entriesNode.replaceChildren(table("Trail entries, oldest first",
        ["Position", "When", "Kind", "Action", "Outcome", "Actor", "Role", "Patient", "Record"], rows));
    }
    entriesNode.querySelector(".more")?.remove();
    if (nextCursor) {
      entriesNode.append(el("button", { type: "button", class: "more", onclick: () => showEntries(true) }, "More"));
    }
  } catch (error) {
    showError(entriesNode, error);
  }
}

async function showEntry(position) {
  entryNode.hidden = false;
  try {
    const entry = await getJson(`${API}/audit/events/${position}`);
    entryNode.replaceChildren(el("h2", {}, `Entry ${entry.position}`),
      el("dl", {}, Object.entries(entry).filter(([, v]) => v !== null && v !== undefined)
        .map(([key, value]) => [el("dt", {}, key),
          el("dd", {}, typeof value === "object" ? JSON.stringify(value) : String(value))])));
    entryNode.scrollIntoView({ block: "nearest" });
  } catch (error) {
    showError(entryNode, error);
  }
}

verifyButton.addEventListener("click", async () => {
  verifyResult.textContent = "Checking…";
  verifyResult.className = "";
  try {
    const result = await getJson(`${API}/audit/verify`);
    verifyResult.textContent = result.ok
      ? `Intact: ${result.checked} entries checked, head ${result.headHash.slice(0, 16)}…`
      : `Tampered: first bad entry at position ${result.firstBadPosition} (${result.checked} checked before it)`;
    verifyResult.className = result.ok ? "verify-ok" : "verify-bad";
  } catch (error) {
    verifyResult.textContent = error.message;
    verifyResult.className = "verify-bad";
  }
});
form.addEventListener("submit", (event) => { event.preventDefault(); showEntries(); });
showEntries();
