// The complaints worklist (RAG by days to the next deadline) and the SLA view by month.
import { API, el, fieldsOf, getJson, showError, table, when } from "./common.js";

const form = document.getElementById("filters");
const worklistNode = document.getElementById("worklist");
const slaNode = document.getElementById("sla");

function ragCell(item) {
  const label = item.overdue ? `${item.rag} · overdue` : item.rag;
  return el("td", { class: `rag rag-${item.rag}${item.overdue ? " overdue" : ""}` }, label);
}

function row(item) {
  const due = item.nextDueOn || (item.nextDueAt ? when(item.nextDueAt) : "");
  const days = item.daysToDue === null ? "" : String(item.daysToDue);
  return el("tr", { "data-complaint-id": item.id, class: item.overdue ? "overdue" : "" },
    el("td", {}, el("code", {}, item.id.slice(0, 8))),
    el("td", {}, item.status.replaceAll("_", " ")),
    el("td", {}, item.policy),
    el("td", {}, when(item.receivedAt)),
    el("td", {}, (item.nextDeadline || "").replaceAll("_", " ")),
    el("td", {}, due),
    el("td", { class: "number" }, days),
    ragCell(item),
    el("td", {}, item.riskGrade || ""));
}

async function showWorklist() {
  const filters = fieldsOf(form);
  try {
    const items = [];
    let cursor;
    do { // every page: a worklist is a few hundred cases at most
      const page = await getJson(`${API}/complaints/worklist`, { ...filters, cursor, limit: 200 });
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    worklistNode.replaceChildren(items.length
      ? table(`${items.length} complaints`, ["Case", "Status", "Policy", "Received",
        "Next deadline", "Due", "Days to due", "RAG", "Risk"], items.map(row))
      : el("p", {}, "No complaints match."));
  } catch (error) {
    showError(worklistNode, error);
  }
}

function percent(compliance) {
  return compliance.percentOnTime === null ? "–" : `${compliance.percentOnTime.toFixed(0)} %`;
}

async function showSla() {
  try {
    // The last twelve months, newest first; months with nothing received say nothing.
    const months = (await getJson(`${API}/complaints/sla`))
      .filter((m) => m.received > 0 || m.responded.pending > 0).reverse().slice(0, 12);
    slaNode.replaceChildren(months.length
      ? table("Acknowledged and responded on time", ["Month", "Received",
        "Acknowledged on time", "Late", "Responded on time", "Late", "Pending"],
        months.map((m) => el("tr", {},
          el("td", {}, m.month), el("td", { class: "number" }, m.received),
          el("td", { class: "number" }, percent(m.acknowledged)),
          el("td", { class: "number" }, m.acknowledged.late),
          el("td", { class: "number" }, percent(m.responded)),
          el("td", { class: "number" }, m.responded.late),
          el("td", { class: "number" }, m.responded.pending))))
      : el("p", {}, "No complaints received in the period."));
  } catch (error) {
    showError(slaNode, error);
  }
}

form.addEventListener("submit", (event) => { event.preventDefault(); showWorklist(); });
showWorklist();
showSla();
