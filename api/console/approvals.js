// The approvals inbox: tickets for the caller's roles, each approved or rejected with a reason.
import { api, el, header, message, when } from "./common.js";

const rows = document.getElementById("rows");

function money(amount, currency) {
  if (amount === null || amount === undefined) return "";
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "GBP" }).format(amount);
  } catch {
    return `${amount} ${currency || ""}`;
  }
}

function row(ticket) {
  const reason = el("input", { name: "reason", placeholder: "reason", "aria-label": `reason for ticket ${ticket.ticket_id}`, size: 22 });
  const decide = (outcome) => async () => {
    if (outcome === "reject" && !reason.value.trim()) {
      message("Write a reason first: a rejection is recorded with why it was made.");
      reason.focus();
      return;
    }
    try {
      const result = await api(`/api/approvals/${encodeURIComponent(ticket.ticket_id)}/${outcome}`, {
        method: "POST",
        body: { reason: reason.value.trim() || null },
      });
      message(`Ticket ${ticket.ticket_id} (level ${ticket.level}): ${result.outcome || outcome} recorded.`, "ok");
      await load(false);
    } catch (error) {
      message(error.message);
    }
  };
  return el(
    "tr",
    { "data-ticket": ticket.ticket_id, "data-journey": ticket.journey_id, "data-level": ticket.level },
    el("td", { class: "mono" }, el("a", { href: `journey.html?id=${encodeURIComponent(ticket.journey_id)}` }, ticket.journey_id)),
    el("td", {}, ticket.step),
    el("td", {}, ticket.level),
    el("td", {}, ticket.role),
    el("td", { class: "number" }, money(ticket.amount, ticket.currency)),
    el("td", {}, ticket.initiator || ""),
    el("td", {}, when(ticket.opened_at)),
    el("td", {}, when(ticket.expires_at)),
    el(
      "td",
      { class: "decide" },
      reason,
      el("button", { type: "button", onclick: decide("approve") }, "Approve"),
      el("button", { type: "button", class: "danger", onclick: decide("reject") }, "Reject"),
    ),
  );
}

async function load(clear = true) {
  try {
    const tickets = await api("/api/approvals");
    const items = Array.isArray(tickets) ? tickets : tickets.items || [];
    rows.replaceChildren(...items.map(row));
    document.getElementById("count").textContent = items.length ? `${items.length} waiting` : "Nothing waits for your roles.";
    if (clear) message("");
  } catch (error) {
    message(error.message);
  }
}

header();
document.getElementById("refresh").addEventListener("click", () => load());
load();
