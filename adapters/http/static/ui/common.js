// What every screen shares: reading the API with the session cookie, building DOM nodes
// safely (text only: nothing the API returns is ever parsed as HTML), and formatting.

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

// GET a JSON resource. The session cookie goes with it (same origin); a 401 means the
// session has ended, so the browser goes to sign in and comes back here afterwards.
export async function getJson(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, value);
  }
  const url = query.size ? `${path}?${query}` : path;
  const answer = await fetch(url, { headers: { Accept: "application/json" } });
  if (answer.status === 401) {
    signInAgain();
    throw new ApiError(401, { detail: "signed out" });
  }
  const body = answer.headers.get("content-type")?.includes("json") ? await answer.json() : null;
  if (!answer.ok) throw new ApiError(answer.status, body);
  return body;
}

export function signInAgain() {
  const here = location.pathname + location.search;
  location.assign(`/ui/sign-in?next=${encodeURIComponent(here)}`);
}

// el("td", {class: "x"}, "text", otherNode): children are text or nodes, never HTML.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function table(caption, headers, rows) {
  return el("table", {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows));
}

export function showError(container, error) {
  container.replaceChildren(el("p", { class: "error", role: "alert" }, error.message));
}

const timeFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium", timeStyle: "short",
});

export function when(iso) {
  return iso ? timeFormat.format(new Date(iso)) : "";
}

export function money(amount) {
  if (!amount) return "";
  const value = Number(amount.amount);
  return new Intl.NumberFormat(undefined, { style: "currency", currency: amount.currency })
    .format(value);
}

// A form's filled fields, for the query string.
export function fieldsOf(form) {
  const values = {};
  for (const [key, value] of new FormData(form)) if (value !== "") values[key] = value;
  return values;
}
