// Budget vs actual per cost centre: a bar chart (SVG, drawn here) and the figures.
import { API, el, fieldsOf, getJson, money, showError, table } from "./common.js";

const form = document.getElementById("filters");
const chartNode = document.getElementById("chart");
const summaryNode = document.getElementById("summary");
const SERIES = [["budget", "Budget"], ["committed", "Committed"], ["actual", "Actual"]];
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function chart(centres) {
  const barHeight = 16;
  const gap = 4;
  const groupHeight = SERIES.length * (barHeight + gap) + 14;
  const labelWidth = 140;
  const width = 720;
  const most = Math.max(1, ...centres.flatMap((c) => SERIES.map(([key]) => Number(c[key].amount))));
  const scale = (width - labelWidth - 220) / most; // room for the value's label
  const height = centres.length * groupHeight + 10;
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", width: "100%",
    "aria-label": "Budget, committed and actual per cost centre",
  });
  centres.forEach((centre, index) => {
    const top = index * groupHeight + 5;
    const group = svg("g", { class: "cost-centre", "data-cost-centre": centre.costCentre });
    group.append(svg("text", { x: 0, y: top + barHeight, class: "label" }, centre.costCentre));
    SERIES.forEach(([key, title], row) => {
      const value = Number(centre[key].amount);
      const y = top + row * (barHeight + gap);
      const bar = svg("rect", {
        x: labelWidth, y, height: barHeight, width: Math.max(0, value * scale),
        class: `bar bar-${key}`, "data-series": key, "data-value": centre[key].amount,
      });
      bar.append(svg("title", {}, `${title}: ${money(centre[key])}`));
      group.append(bar, svg("text", {
        x: labelWidth + Math.max(0, value * scale) + 6, y: y + barHeight - 3, class: "value",
      }, `${title} ${money(centre[key])}`));
    });
    root.append(group);
  });
  return root;
}

async function show() {
  try {
    const summary = await getJson(`${API}/budget/summary`, fieldsOf(form));
    const centres = summary.costCentres;
    if (!centres.length) {
      chartNode.replaceChildren(el("p", {}, "No budget lines in this fiscal year."));
      summaryNode.replaceChildren();
      return;
    }
    chartNode.replaceChildren(chart(centres));
    summaryNode.replaceChildren(table(`Fiscal year ${summary.fiscalYear}, to period ${summary.asOfPeriod}`,
      ["Cost centre", "Lines", "Budget", "Phased to date", "Committed", "Actual", "Available",
        "Forecast", "Variance", "RAG"],
      centres.map((c) => el("tr", { "data-cost-centre": c.costCentre },
        el("th", { scope: "row" }, c.costCentre), el("td", { class: "number" }, c.lines),
        ...["budget", "phasedYtd", "committed", "actual", "available", "forecast", "variance"]
          .map((key) => el("td", { class: "number" }, money(c[key]))),
        el("td", { class: `rag rag-${c.rag}` }, c.rag)))));
  } catch (error) {
    showError(summaryNode, error);
  }
}

form.addEventListener("submit", (event) => { event.preventDefault(); show(); });
show();
