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
    403: "Not allowed",
    404: "Not found",
    409: "Refused",
    422: "Not accepted",
  }[status] || `The API answered ${status}`;
  return detail ? `${prefix}: ${detail}` : prefix;
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  const value = token();
  if (value) headers.Authorization = `Bearer ${value}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
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

export function when(value) {
  if (!value) return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
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
export function header({ customer = false } = {}) {
  token();
  const who = claims();
  const nav = customer
    ? el("nav", {}, el("strong", {}, "Your journey"))
    : el(
        "nav",
        {},
        el("strong", {}, "Journeys console"),
        el("a", { href: "index.html" }, "Journeys"),
        el("a", { href: "stuck.html" }, "Stuck"),
        el("a", { href: "approvals.html" }, "Approvals"),
      );
  const identity = who
    ? `${who.customer_id ? `customer ${who.customer_id}` : who.sub} (${(who["cognito:groups"] || []).join(", ") || "no roles"})`
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
  const change = el("button", { type: "button", class: "link", onclick: () => { box.hidden = !box.hidden; } }, "change token");
  document.body.prepend(el("header", {}, nav, el("span", { class: "who", id: "who" }, identity, " ", change), box));
}

export function param(name) {
  return new URLSearchParams(location.search).get(name);
}
