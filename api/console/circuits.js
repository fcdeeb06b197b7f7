// The workers' circuit breakers (GET /api/circuits): which workers' new work is waiting, and since when.
import { api, el, header, message, statusBadge, when } from "./common.js";

const rows = document.getElementById("rows");

function row(circuit) {
  return el(
    "tr",
    { "data-worker": circuit.worker },
    el("td", { class: "mono" }, circuit.worker),
    el("td", {}, statusBadge(circuit.state)),
    el("td", {}, `${circuit.failures} / ${circuit.calls}`),
    el("td", {}, circuit.state === "CLOSED" ? "" : when(circuit.opened_at)),
    el("td", {}, circuit.state === "HALF_OPEN" ? when(circuit.probe_until) : ""),
  );
}

async function load() {
  try {
    const circuits = await api("/api/circuits");
    rows.replaceChildren(...circuits.map(row));
    const open = circuits.filter((c) => c.state !== "CLOSED").length;
    document.getElementById("count").textContent = `${circuits.length} workers, ${open} open`;
    message("");
  } catch (error) {
    message(error.message);
  }
}

header();
document.getElementById("refresh").addEventListener("click", () => load());
load();
