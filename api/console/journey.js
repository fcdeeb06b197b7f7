// One journey: summary, why it waits, its graph, the timeline, and the operator's interventions.
import { api, el, header, may, message, param, statusBadge, when } from "./common.js";
import { drawGraph } from "./graph.js";

const FINISHED = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
const id = param("id");
let seen = null; // the journey as last shown: interventions carry its version, so a stale view is refused

function field(label, value) {
  return value === null || value === undefined || value === "" ? null : el("div", { class: "field" }, el("dt", {}, label), el("dd", {}, value));
}

function summary(detail) {
  const j = detail.journey;
  return [
    el(
      "dl",
      {},
      field("Status", el("span", { id: "status" }, statusBadge(j.status), j.sla_breached ? el("span", { class: "badge sla" }, "SLA breached") : null)),
      field("Step", el("span", { id: "step" }, j.step_label ? `${j.step_label} (${j.step})` : j.step)),
      field("Definition", `${j.definition_id} ${j.definition_version}`),
      field("Business key", j.business_key),
      field("Version", String(j.version)),
      field("Created", when(j.created_at)),
      field("Updated", when(j.updated_at)),
      field("Stuck", j.stuck_reason !== detail.why ? j.stuck_reason : null),
    ),
    detail.why && !FINISHED.has(j.status) ? el("p", { class: "why", id: "why" }, detail.why) : null,
    detail.error ? el("pre", { class: "error-box mono" }, JSON.stringify(detail.error, null, 2)) : null,
  ];
}

function openTable(open) {
  if (!open.length) return el("p", { class: "muted" }, "Nothing open.");
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, ["Step", "Waiting on", "Deadline", "Last error"].map((h) => el("th", {}, h)))),
    el(
      "tbody",
      {},
      open.map((a) =>
        el(
          "tr",
          {},
          el("td", {}, a.branch ? `${a.step} / ${a.branch}` : a.step),
          el("td", {}, a.worker || a.kind.toLowerCase(), a.retrying ? " (retrying)" : ""),
          el("td", {}, when(a.deadline)),
          el("td", {}, a.last_error || ""),
        ),
      ),
    ),
  );
}

function timelineRows(timeline) {
  return timeline.map((t) =>
    el(
      "tr",
      {},
      el("td", {}, t.seq),
      el("td", {}, when(t.at)),
      el("td", {}, t.actor || ""),
      el("td", {}, t.event || ""),
      el("td", {}, [t.from_step, t.to_step].filter(Boolean).join(" → ")),
      el("td", {}, t.status ? statusBadge(t.status) : ""),
      el("td", {}, t.reason || ""),
    ),
  );
}

function render(detail) {
  seen = detail.journey;
  document.title = `Journey ${seen.id}`;
  document.getElementById("summary").replaceChildren(...summary(detail).filter(Boolean));
  const waiting = (detail.open || []).filter((a) => a.branch).map((a) => `${a.step}/${a.branch}`);
  document.getElementById("graph").replaceChildren(drawGraph({ ...(detail.graph || {}), waiting }));
  document.getElementById("open").replaceChildren(openTable(detail.open || []));
  document.getElementById("timeline").replaceChildren(...timelineRows(detail.timeline || []));
  document.getElementById("state").textContent = JSON.stringify(detail.state, null, 2);
  interventions(seen.status);
  const target = document.getElementById("target");
  if (target && !target.options.length) target.append(...(detail.graph?.steps || []).map((s) => el("option", { value: s }, s)));
}

// Intervention buttons only for operators, and only while the journey can still move: removed, not just hidden.
function interventions(status) {
  const panel = document.getElementById("intervene-panel");
  const why = !may.operate() ? "Interventions need the operator role." : FINISHED.has(status) ? `This journey is ${status.toLowerCase()}: there is nothing to intervene in.` : null;
  if (!why) return;
  if (panel) panel.remove();
  const note = document.getElementById("no-intervention");
  note.textContent = why;
  note.hidden = false;
}

async function load() {
  try {
    render(await api(`/api/journeys/${encodeURIComponent(id)}`));
    return true;
  } catch (error) {
    message(error.message);
    if (!seen) document.getElementById("summary").replaceChildren(el("p", { class: "muted" }, "Could not load this journey."));
    return false;
  }
}

async function intervene(command) {
  const reason = document.getElementById("reason").value.trim();
  if (!reason) {
    message("Write a reason first: every intervention is recorded with why it was made.");
    document.getElementById("reason").focus();
    return;
  }
  const body = { command, reason, expected_version: seen ? seen.version : null };
  if (command === "goto") body.target = document.getElementById("target").value;
  const json = document.getElementById("patch").value.trim();
  if (command === "skip" && !json) {
    message("Skipping a step needs what it would have produced: write it as a JSON object below.");
    document.getElementById("patch").focus();
    return;
  }
  if (command === "patch" || command === "skip") {
    try {
      body[command === "patch" ? "patch" : "output"] = JSON.parse(json || "null");
    } catch (error) {
      message(`That is not valid JSON: ${error.message}`);
      return;
    }
  }
  const buttons = document.querySelectorAll("#intervene button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    await api(`/api/journeys/${encodeURIComponent(id)}/interventions`, { method: "POST", body });
    message(`${command} accepted: the journey will move on shortly.`, "ok");
    document.getElementById("reason").value = "";
    poll();
  } catch (error) {
    message(error.message);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

let timer = null;
function poll() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    await load();
    if (!seen || !FINISHED.has(seen.status)) poll(); // after a failed load too: it shows, and tries again
  }, document.visibilityState === "visible" ? 2000 : 10000);
}

header();
if (!may.operate()) interventions(null);
document.getElementById("journey-id").textContent = id || "(no id)";
for (const button of document.querySelectorAll("[data-command]")) {
  button.addEventListener("click", () => intervene(button.dataset.command));
}
if (!id) message("No journey id: open a journey from the list.");
else load().then(() => { if (!seen || !FINISHED.has(seen.status)) poll(); });
