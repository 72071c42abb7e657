// The live flow board: one EventSource on /api/v1/flow/board/events. Each `board` event is
// the unit's whole board (its id is the projection position), so after a dropped
// connection the browser reconnects with Last-Event-ID and the server sends the board as it
// is now if anything moved meanwhile: nothing is missed. `status` events say how far
// behind the writes the read model is; the page says when what it shows is stale.
import { API, el, signInAgain } from "./common.js";

// Minutes since arrival at which a card changes colour: a patient not yet with a clinician
// after an hour (door to provider), and the 4-hour and 12-hour marks of time in department.
export const MARKS = { provider: 60, fourHours: 240, twelveHours: 720 };
// A read model this many seconds behind the writes shows the board as stale.
const STALE_SECONDS = 5;
const COLUMNS = [
  ["arrived", "Arrived"], ["triaged", "Triaged"],
  ["withClinician", "With clinician"], ["admitted", "Admitted"],
];

const params = new URLSearchParams(location.search);
const unit = params.get("unit") || "";
const boardNode = document.getElementById("board");
const statusNode = document.getElementById("live-status");
const unitSelect = document.getElementById("unit");
let lastBoard = null;
let lastStatus = null;
let connected = false;

function minutesNow(minutes, builtAt) {
  if (minutes === null || minutes === undefined) return null;
  return minutes + Math.max(0, (Date.now() - Date.parse(builtAt)) / 60000);
}

function waitClass(visit, sinceArrival) {
  if (sinceArrival === null) return "wait-ok";
  if (sinceArrival >= MARKS.twelveHours) return "wait-12h";
  if (sinceArrival >= MARKS.fourHours) return "wait-4h";
  const waitingForClinician = visit.status === "arrived" || visit.status === "triaged";
  if (waitingForClinician && sinceArrival >= MARKS.provider) return "wait-provider";
  return "wait-ok";
}

function card(visit, builtAt) {
  const sinceArrival = minutesNow(visit.minutesSinceArrival, builtAt);
  const inState = minutesNow(visit.minutesInState, builtAt);
  const acuity = visit.acuityLevel !== null
    ? `${(visit.acuityScale || "acuity").toUpperCase()} ${visit.acuityLevel}` : "no acuity";
  const place = visit.location ? [visit.location.unit, visit.location.bed].filter(Boolean).join(" · ") : "";
  return el("li", { class: `card ${waitClass(visit, sinceArrival)}`, "data-visit-id": visit.visitId },
    el("strong", { class: "patient-ref" }, visit.patientRef),
    el("span", { class: "acuity" }, acuity),
    place ? el("span", { class: "location" }, place) : null,
    sinceArrival !== null
      ? el("span", { class: "minutes" }, `${Math.floor(sinceArrival)} min since arrival`) : null,
    inState !== null ? el("span", { class: "in-state" }, `${Math.floor(inState)} min in state`) : null,
    visit.boarder ? el("span", { class: "tag" }, `boarding for ${visit.targetUnit || "a bed"}`) : null);
}

function list(title, visits, builtAt, key) {
  return el("section", { class: `column column-${key}`, "aria-label": title },
    el("h3", {}, `${title} (${visits.length})`),
    el("ul", {}, visits.map((v) => card(v, builtAt))));
}

function render() {
  if (!lastBoard) return;
  const units = lastBoard.units.map((u) =>
    el("section", { class: "unit", "aria-label": `Unit ${u.unit}` },
      el("h2", {}, u.unit),
      el("div", { class: "columns" }, COLUMNS.map(([key, title]) => list(title, u[key], lastBoard.at, key))),
      el("div", { class: "columns extra" },
        list("Boarders", u.boarders, lastBoard.at, "boarders"),
        list("On leave", u.onLeave, lastBoard.at, "onLeave"))));
  boardNode.replaceChildren(...(units.length ? units : [el("p", {}, "No patients on this board.")]));
  const known = new Set([...unitSelect.options].map((o) => o.value));
  for (const u of lastBoard.units) {
    if (!known.has(u.unit)) unitSelect.append(el("option", { value: u.unit }, u.unit));
  }
  unitSelect.value = unit;
}

function showStatus() {
  let text;
  let stale = false;
  if (!connected) {
    text = "Reconnecting… the board below may be out of date.";
    stale = true;
  } else if (lastStatus && lastStatus.lagEvents > 0 && lastStatus.lagSeconds >= STALE_SECONDS) {
    text = `Stale: the board is ${lastStatus.lagEvents} changes (${Math.round(lastStatus.lagSeconds)} s) behind.`;
    stale = true;
  } else {
    text = lastBoard ? `Live · updated ${new Date(lastBoard.at).toLocaleTimeString()}` : "Live";
  }
  statusNode.textContent = text;
  statusNode.classList.toggle("stale", stale);
  document.body.classList.toggle("board-stale", stale);
}

let lastEventId = null;

function connect() {
  // A new EventSource cannot send Last-Event-ID itself: the query says where we were.
  const query = new URLSearchParams();
  if (unit) query.set("unit", unit);
  if (lastEventId !== null) query.set("lastEventId", lastEventId);
  const source = new EventSource(`${API}/flow/board/events${query.size ? `?${query}` : ""}`);
  source.addEventListener("open", () => { connected = true; showStatus(); });
  source.addEventListener("board", (event) => {
    lastBoard = JSON.parse(event.data);
    lastEventId = event.lastEventId;
    document.body.dataset.position = lastEventId;
    connected = true;
    render();
    showStatus();
  });
  source.addEventListener("status", (event) => {
    lastStatus = JSON.parse(event.data);
    showStatus();
  });
  source.addEventListener("expired", () => { source.close(); signInAgain(); });
  source.addEventListener("error", async () => {
    connected = false;
    showStatus();
    if (source.readyState === EventSource.CLOSED) {
      // Refused (not a dropped connection, which the browser retries by itself): the
      // session may have ended; ask the API, and start over if it still answers.
      let answer = null;
      try {
        answer = await fetch(`${API}/flow/board${unit ? `?unit=${encodeURIComponent(unit)}` : ""}`);
      } catch {
        // No network: try again below.
      }
      if (answer?.status === 401) signInAgain();
      else setTimeout(connect, 2000);
    }
  });
}

unitSelect.addEventListener("change", () => {
  const value = unitSelect.value;
  location.assign(value ? `/ui/board?unit=${encodeURIComponent(value)}` : "/ui/board");
});
setInterval(() => { render(); showStatus(); }, 15000);
connect();
