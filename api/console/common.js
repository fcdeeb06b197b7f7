// Shared by every console page: the bearer token, calls to the API, readable errors, small DOM helpers.

const TOKEN_KEY = "journeys.token";

export function token() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) {
    sessionStorage.setItem(TOKEN_KEY, hash.get("token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function claims() {
  const value = token();
  if (!value) return null;
  try {
    const part = value.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch {
    return null;
  }
}

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
  }
}

function detailText(detail) {
  if (Array.isArray(detail)) {
    return detail.map((d) => (typeof d === "string" ? d : `${(d.loc || []).join(".")}: ${d.msg || JSON.stringify(d)}`)).join("; ");
  }
  if (detail && typeof detail === "object") return JSON.stringify(detail);
  return detail || "";
}

function describe(status, body) {
  const detail = detailText(body && (body.detail ?? body.message)); // API Gateway answers 401 with `message`
  const prefix = {
    400: "Not accepted",
    401: "Not signed in (paste a valid token)",
    0: "No answer",
    403: "Not allowed",
    404: "Not found",
    409: "Refused",
    422: "Not accepted",
  }[status] ?? `The API answered ${status}`;
  return detail ? `${prefix}: ${detail}` : prefix;
}

const TIMEOUT_MS = 15000; // a page says the API did not answer rather than wait for ever

export async function api(path, { method = "GET", body, headers: extra = {} } = {}) {
  const headers = { Accept: "application/json", ...extra };
  const value = token();
  if (value) headers.Authorization = `Bearer ${value}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const late = error && error.name === "TimeoutError";
    throw new ApiError(0, { detail: late ? `the API did not answer in ${TIMEOUT_MS / 1000} s` : "the API cannot be reached (is the local stack running?)" });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (!response.ok) {
    if (response.status === 401) showTokenBox();
    throw new ApiError(response.status, data);
  }
  return data;
}

// el("a", {href: "x", class: "y"}, "text", child...): a DOM element; text children are escaped by construction.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function message(text, kind = "error") {
  const box = document.getElementById("message");
  box.replaceChildren(text ? el("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text) : "");
}

// Times as ISO 8601 in the viewer's zone with its offset (2026-12-05 14:03:07 +01:00): never a US-style date.
export function when(value) {
  if (!value) return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const two = (n) => String(Math.abs(n)).padStart(2, "0");
  const offset = -date.getTimezoneOffset();
  const zone = `${offset < 0 ? "-" : "+"}${two(Math.trunc(offset / 60))}:${two(offset % 60)}`;
  const day = `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}`;
  return `${day} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ${zone}`;
}

// "in 3 h", "12 min ago": for lists, with the exact time in the cell's title.
export function ago(value) {
  if (!value) return "";
  const seconds = value - Date.now() / 1000;
  const size = Math.abs(seconds);
  const [unit, n] = size >= 86400 ? ["d", 86400] : size >= 3600 ? ["h", 3600] : size >= 60 ? ["min", 60] : ["s", 1];
  const amount = `${Math.floor(size / n)} ${unit}`;
  return size < 1 ? "now" : seconds > 0 ? `in ${amount}` : `${amount} ago`;
}

export function timeCell(value) {
  return el("td", { title: when(value) }, ago(value));
}

// An amount in its own currency, formatted for the viewer's locale (EUR 48,000 stays EUR, whatever the locale).
export function money(amount, currency, locale = navigator.language) {
  if (amount === null || amount === undefined) return "";
  if (!currency) return `${new Intl.NumberFormat(locale, { minimumFractionDigits: 2 }).format(amount)} (currency unknown)`;
  try {
    return new Intl.NumberFormat(locale, { style: "currency", currency }).format(amount);
  } catch {
    return `${new Intl.NumberFormat(locale, { minimumFractionDigits: 2 }).format(amount)} ${currency}`;
  }
}

// What the token lets the caller do: the console shows only that (the API refuses the rest anyway).
const STAFF = new Set(["viewer", "operator"]);
export function roles() {
  const who = claims();
  return new Set((who && who["cognito:groups"]) || []);
}
export const may = {
  read: () => roles().has("viewer") || roles().has("operator"),
  operate: () => roles().has("operator"),
  approve: () => [...roles()].some((r) => !STAFF.has(r) && r !== "customer"),
  customer: () => roles().has("customer"),
};

// Each role's landing page: staff who read journeys get the list, approvers the inbox, customers their journey.
export function landing() {
  if (may.read()) return "index.html";
  if (may.approve()) return "approvals.html";
  if (may.customer()) return "progress.html";
  return "index.html";
}

// Lists refresh themselves while the page is in view; `run` is the page's load().
export function every(ms, run) {
  setInterval(() => {
    if (document.visibilityState === "visible") run();
  }, ms);
}

export function statusBadge(status) {
  return el("span", { class: `badge status-${String(status).toLowerCase()}` }, status);
}

export function showTokenBox() {
  const box = document.getElementById("token-box");
  if (!box) return;
  box.hidden = false;
}

// The header every page shares: navigation, who the token says you are, and the paste-a-token box.
export function header({ customer = false, customerTitle = "" } = {}) {
  token();
  const who = claims();
  const here = location.pathname.split("/").pop() || "index.html";
  const link = (href, text) => el("a", { href, class: href === here ? "here" : null }, text);
  const nav = customer
    ? el("nav", {}, el("strong", {}, customerTitle))
    : el(
        "nav",
        {},
        el("strong", {}, "Journeys console"),
        may.read() ? link("index.html", "Journeys") : null,
        may.read() ? link("stuck.html", "Stuck") : null,
        may.approve() ? link("approvals.html", "Approvals") : null,
      );
  const identity = who
    ? customer
      ? who.customer_id || ""
      : `${who.customer_id ? `customer ${who.customer_id}` : who.sub} (${(who["cognito:groups"] || []).join(", ") || "no roles"})`
    : "no token";
  const input = el("input", { id: "token-input", type: "password", placeholder: "paste a bearer token", size: 40 });
  const box = el(
    "form",
    {
      id: "token-box",
      hidden: Boolean(who),
      onsubmit: (event) => {
        event.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        location.reload();
      },
    },
    el("label", { for: "token-input" }, "Token: "),
    input,
    el("button", { type: "submit" }, "Use token"),
  );
  const change = customer ? null : el("button", { type: "button", class: "link", onclick: () => { box.hidden = !box.hidden; } }, "change token");
  document.body.prepend(el("header", {}, nav, el("span", { class: "who", id: "who" }, identity, " ", change), box));
}

export function param(name) {
  return new URLSearchParams(location.search).get(name);
}
