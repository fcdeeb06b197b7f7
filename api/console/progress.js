// The customer's page: how far their journey is, and the form for what it needs from them (an INPUT step),
// all in the customer's words and language (?locale=, else the browser's Accept-Language): the API describes
// the form field by field and says what is wrong with an answer field by field.
import { ApiError, api, el, header, message, param } from "./common.js";

const id = param("journey");
const locale = param("locale");
const form = document.getElementById("input-form");
let shownStep = null;
let words = {}; // the page's own words, from the API in the customer's language

const say = (key, fallback, values = {}) =>
  (words[key] || fallback).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));

function query() {
  return locale ? `?locale=${encodeURIComponent(locale)}` : "";
}

function input(field) {
  const attributes = { name: field.name, id: `field-${field.name}`, "data-kind": field.kind, "aria-required": field.required ? "true" : null };
  if (field.kind === "choice" || field.kind === "boolean") {
    const options = field.kind === "boolean"
      ? [{ value: "true", label: say("yes", "Yes") }, { value: "false", label: say("no", "No") }]
      : field.choices;
    return el("select", attributes, el("option", { value: "" }, say("choose", "Choose…")), options.map((c) => el("option", { value: String(c.value) }, c.label)));
  }
  const type = { number: "number", integer: "number", date: "date", email: "email" }[field.kind] || "text";
  return el("input", { ...attributes, type, step: type === "number" ? "any" : null });
}

function fieldRow(field) {
  return el(
    "div",
    { class: "form-field", "data-field": field.name },
    el("label", { for: `field-${field.name}` }, field.label, field.required ? el("span", { class: "muted", title: say("required_mark", "required") }, " *") : null),
    input(field),
    el("span", { class: "field-error", id: `error-${field.name}`, role: "alert" }),
  );
}

// Fields of one nested object (an address) share a fieldset, in the schema's order.
function fieldsets(fields) {
  const out = [];
  let open = null;
  for (const field of fields) {
    if (!field.group) {
      open = null;
      out.push(fieldRow(field));
      continue;
    }
    if (!open || open.dataset.group !== field.group) {
      open = el("fieldset", { "data-group": field.group }, el("legend", {}, field.group));
      out.push(open);
    }
    open.append(fieldRow(field));
  }
  return out;
}

function answer() {
  const data = {};
  for (const node of form.querySelectorAll("input, select")) {
    if (node.value === "") continue;
    let value = node.value;
    if (node.dataset.kind === "boolean") value = value === "true";
    else if (node.dataset.kind === "integer") value = Number.parseInt(value, 10);
    else if (node.dataset.kind === "number") value = Number(value);
    const keys = node.name.split(".");
    let target = data;
    for (const key of keys.slice(0, -1)) target = target[key] ||= {};
    target[keys.at(-1)] = value;
  }
  return data;
}

function showProblems(fields) {
  for (const node of form.querySelectorAll(".form-field")) {
    const problem = fields[node.dataset.field];
    node.classList.toggle("invalid", Boolean(problem));
    node.querySelector(".field-error").textContent = problem || "";
  }
  // a problem with a whole group (a missing address) shows on its first field
  for (const [name, problem] of Object.entries(fields)) {
    if (form.querySelector(`[data-field="${CSS.escape(name)}"]`)) continue;
    const first = form.querySelector(`[data-field^="${CSS.escape(name)}."] .field-error`);
    if (first && !first.textContent) first.textContent = problem;
  }
}

function showNeeded(needed) {
  const section = document.getElementById("needed");
  if (!needed) {
    section.hidden = true;
    shownStep = null;
    return;
  }
  if (shownStep === needed.step) return; // keep what the customer is typing
  shownStep = needed.step;
  document.getElementById("needed-label").textContent = say("needed", "What we need from you"); // the step's label is above
  form.replaceChildren(...fieldsets(needed.fields || []), el("button", { type: "submit" }, say("send", "Send")));
  section.hidden = false;
}

function render(progress) {
  words = progress.page || {};
  document.documentElement.lang = progress.locale || "en";
  const title = progress.title || say("default_title", "Your application");
  document.title = title;
  document.getElementById("title").textContent = title;
  const percent = Math.max(0, Math.min(100, progress.percent ?? 0));
  document.getElementById("bar-fill").style.width = `${percent}%`;
  document.querySelector(".bar").setAttribute("aria-valuenow", percent);
  document.getElementById("step-label").textContent =
    progress.step_label || (progress.finished ? say("finished", "Finished") : say("working", "We are working on it"));
  document.getElementById("percent").textContent = progress.finished ? say("done", "{percent}% done", { percent }) : say("done_so_far", "{percent}% done so far", { percent });
  showNeeded(progress.finished ? null : progress.needed);
}

let timer = null;
async function load() {
  clearTimeout(timer);
  try {
    const progress = await api(`/api/customer/journeys/${encodeURIComponent(id)}/progress${query()}`);
    render(progress);
    message("");
    if (!progress.finished) timer = setTimeout(load, 3000);
  } catch (error) {
    if (error.status === 404) {
      document.getElementById("step-label").textContent = "";
      message(say("not_found", "We cannot find this journey for you."));
      return;
    }
    document.getElementById("step-label").textContent = "";
    message(error.status === 0 ? say("unreachable", "We cannot reach our service just now. We will try again in a moment.") : error.message);
    timer = setTimeout(load, 10000); // never a page that spins for ever: it says so, and tries again
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  button.textContent = say("sending", "Sending…");
  try {
    await api(`/api/customer/journeys/${encodeURIComponent(id)}/input${query()}`, { method: "POST", body: { data: answer() } });
    showProblems({});
    message(say("thanks", "Thank you, we have what we need. Your application carries on."), "ok");
    document.getElementById("needed").hidden = true;
    load();
  } catch (error) {
    const fields = error instanceof ApiError && error.body && error.body.fields;
    if (fields) {
      showProblems(fields);
      message(say("fix", "Please check the answers marked below."));
    } else {
      message(error.message);
    }
  } finally {
    button.disabled = false;
    button.textContent = say("send", "Send");
  }
});

header({ customer: true });
document.getElementById("step-label").textContent = "…";
if (!id) {
  document.getElementById("step-label").textContent = "";
  message("No journey given: please open the link we sent you. / Aucun dossier indiqué : ouvrez le lien que nous vous avons envoyé.");
} else load();
