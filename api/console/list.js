// The journeys list (index.html, with filters) and the stuck queue (stuck.html): one table, two sources.
import { api, claims, el, every, header, landing, may, message, statusBadge, timeCell } from "./common.js";

const FILTERS = ["status", "definition", "version", "stuck_reason", "business_key", "created_from", "created_to"];
const stuck = document.body.dataset.page === "stuck";
const form = document.getElementById("filters");
const rows = document.getElementById("rows");
const more = document.getElementById("more");
let cursor = null;
let pages = 0; // pages shown: the list refreshes itself only while it shows its first

function query() {
  const params = new URLSearchParams();
  if (form) {
    for (const name of FILTERS) {
      const input = form.elements[name];
      if (input && input.value.trim()) params.set(name, input.value.trim());
    }
    if (form.elements.sla_breached.checked) params.set("sla_breached", "true");
  }
  return params;
}

function row(journey) {
  const link = el("a", { href: `journey.html?id=${encodeURIComponent(journey.id)}` }, journey.id);
  return el(
    "tr",
    { "data-journey": journey.id },
    el("td", { class: "mono" }, link),
    el("td", {}, `${journey.definition_id} ${journey.definition_version}`),
    el("td", {}, statusBadge(journey.status), journey.sla_breached ? el("span", { class: "badge sla" }, "SLA breached") : null),
    el("td", {}, journey.step_label || journey.step, journey.step_label ? el("div", { class: "muted mono" }, journey.step) : null),
    el("td", {}, journey.business_key || ""),
    el("td", {}, journey.stuck_reason || journey.waiting_on || ""),
    timeCell(journey.updated_at),
  );
}

// The API takes creation times as epoch seconds; the form's dates are local days, "to" included.
function apiQuery() {
  const params = query();
  for (const [name, days] of [["created_from", 0], ["created_to", 1]]) {
    if (!params.get(name)) continue;
    const day = new Date(`${params.get(name)}T00:00`);
    day.setDate(day.getDate() + days);
    params.set(name, String(day.getTime() / 1000));
  }
  return params;
}

let loading = false;
async function load(append = false) {
  if (loading) return;
  loading = true;
  const params = stuck ? new URLSearchParams() : apiQuery();
  if (append && cursor) params.set("cursor", cursor);
  const path = stuck ? "/api/journeys/stuck" : "/api/journeys";
  try {
    const page = await api(`${path}?${params}`);
    if (!append) rows.replaceChildren();
    rows.append(...page.items.map(row));
    cursor = page.next_cursor || null;
    pages = append ? pages + 1 : 1;
    more.hidden = !cursor;
    const count = rows.children.length;
    document.getElementById("count").textContent = count
      ? `${count} journey${count === 1 ? "" : "s"}${cursor ? " (more below)" : ""}`
      : stuck ? "Nothing is stuck." : "No journeys match.";
    message("");
  } catch (error) {
    document.getElementById("count").textContent = "Could not load the journeys.";
    message(error.message);
  } finally {
    loading = false;
  }
}

header();
if (claims() && !may.read() && landing() !== "index.html") location.replace(landing()); // an approver or customer
if (form) {
  const initial = new URLSearchParams(location.search);
  for (const name of FILTERS) if (initial.get(name) && form.elements[name]) form.elements[name].value = initial.get(name);
  form.elements.sla_breached.checked = initial.get("sla_breached") === "true";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    history.replaceState(null, "", `?${query()}`);
    load();
  });
  form.addEventListener("reset", () => setTimeout(() => form.requestSubmit(), 0));
}
more.addEventListener("click", () => load(true));
document.getElementById("refresh").addEventListener("click", () => load());
load();
every(10000, () => { if (pages <= 1) load(); });
