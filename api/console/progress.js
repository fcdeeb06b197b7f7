// The customer's page: how far their journey is, and the form for what it needs from them (an INPUT step).
import { api, el, header, message, param } from "./common.js";

const id = param("journey");
const form = document.getElementById("input-form");
let shownStep = null;

function words(name) {
  return name.replace(/[_-]+/g, " ").replace(/^./, (c) => c.toUpperCase());
}

// One input per schema property, nested objects as fieldsets; the names are dotted paths into the answer.
function fields(schema, prefix = "") {
  const required = new Set(schema.required || []);
  return Object.entries(schema.properties || {}).map(([key, property]) => {
    const name = prefix ? `${prefix}.${key}` : key;
    const label = `${property.title || words(key)}${required.has(key) ? " *" : ""}`;
    if (property.type === "object" && property.properties) {
      return el("fieldset", {}, el("legend", {}, label), ...fields(property, name));
    }
    let input;
    if (property.enum) {
      input = el("select", { name }, el("option", { value: "" }, "choose…"), property.enum.map((v) => el("option", { value: v }, words(String(v)))));
    } else if (property.type === "boolean") {
      input = el("select", { name, "data-type": "boolean" }, el("option", { value: "" }, "choose…"), el("option", { value: "true" }, "Yes"), el("option", { value: "false" }, "No"));
    } else {
      const type = property.type === "number" || property.type === "integer" ? "number" : property.format === "date" ? "date" : "text";
      input = el("input", { name, type, step: type === "number" ? "any" : null, "data-type": property.type });
    }
    return el("label", { class: "form-field" }, el("span", {}, label), input, property.description ? el("small", { class: "muted" }, property.description) : null);
  });
}

function answer() {
  const data = {};
  for (const input of form.querySelectorAll("input, select")) {
    if (input.value === "") continue;
    let value = input.value;
    if (input.dataset.type === "boolean") value = value === "true";
    else if (input.dataset.type === "integer") value = Number.parseInt(value, 10);
    else if (input.dataset.type === "number") value = Number(value);
    const keys = input.name.split(".");
    let target = data;
    for (const key of keys.slice(0, -1)) target = target[key] ||= {};
    target[keys.at(-1)] = value;
  }
  return data;
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
  document.getElementById("needed-label").textContent = "What we need from you";
  form.replaceChildren(...fields(needed.input_schema || {}), el("button", { type: "submit" }, "Send"));
  section.hidden = false;
}

function render(progress) {
  document.title = progress.title || "Your progress";
  document.getElementById("title").textContent = progress.title || "Your application";
  const percent = Math.max(0, Math.min(100, progress.percent ?? 0));
  document.getElementById("bar-fill").style.width = `${percent}%`;
  document.querySelector(".bar").setAttribute("aria-valuenow", percent);
  document.getElementById("step-label").textContent =
    progress.step_label || (progress.finished ? "Finished" : "We are working on it");
  document.getElementById("percent").textContent = `${percent}% done${progress.finished ? "" : " so far"}`;
  showNeeded(progress.finished ? null : progress.needed);
}

let timer = null;
async function load() {
  clearTimeout(timer);
  try {
    const progress = await api(`/api/customer/journeys/${encodeURIComponent(id)}/progress`);
    render(progress);
    if (!progress.finished) timer = setTimeout(load, 2000);
  } catch (error) {
    message(error.status === 404 ? "We cannot find this journey for you." : error.message);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api(`/api/customer/journeys/${encodeURIComponent(id)}/input`, { method: "POST", body: { data: answer() } });
    message("Thank you, we have what we need. Your application carries on.", "ok");
    document.getElementById("needed").hidden = true;
    load();
  } catch (error) {
    message(error.message);
  } finally {
    button.disabled = false;
  }
});

header({ customer: true });
if (!id) message("No journey given: open the link we sent you.");
else load();
