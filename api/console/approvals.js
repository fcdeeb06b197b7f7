// The approvals inbox: the tickets the caller may decide (the API lists only those: a role they hold, within its
// limit, not their own request), each with the payment in its own currency, who is paid and the reference.
import { api, el, every, header, message, money, timeCell, when } from "./common.js";

const rows = document.getElementById("rows");
let busy = false; // a decision in flight: the list does not refresh under the approver's hands

function row(ticket) {
  const reason = el("input", { name: "reason", placeholder: "reason", "aria-label": `reason for ticket ${ticket.ticket_id}`, size: 22 });
  const decide = (outcome) => async () => {
    if (outcome === "reject" && !reason.value.trim()) {
      message("Write a reason first: a rejection is recorded with why it was made.");
      reason.focus();
      return;
    }
    busy = true;
    try {
      const result = await api(`/api/approvals/${encodeURIComponent(ticket.ticket_id)}/${outcome}`, {
        method: "POST",
        body: { reason: reason.value.trim() || null },
      });
      message(`Ticket ${ticket.ticket_id} (level ${ticket.level}): ${result.outcome || outcome} recorded.`, "ok");
      await load(false);
    } catch (error) {
      message(error.message);
    } finally {
      busy = false;
    }
  };
  return el(
    "tr",
    { "data-ticket": ticket.ticket_id, "data-journey": ticket.journey_id, "data-level": ticket.level },
    el("td", { class: "mono" }, el("a", { href: `journey.html?id=${encodeURIComponent(ticket.journey_id)}` }, ticket.journey_id),
      el("span", { class: "sub" }, ticket.definition_id)),
    el("td", { class: "number amount", "data-currency": ticket.currency || "" }, money(ticket.amount, ticket.currency),
      ticket.limit !== null && ticket.limit !== undefined ? el("span", { class: "sub" }, `limit ${money(ticket.limit, ticket.currency)}`) : null),
    el("td", { class: "beneficiary" }, ticket.beneficiary || ""),
    el("td", { class: "reference" }, ticket.reference || ""),
    el("td", {}, `${ticket.level} of ${ticket.levels || "?"}`, el("span", { class: "sub" }, ticket.role)),
    el("td", {}, ticket.initiator || "", ticket.approvers && ticket.approvers.length ? el("span", { class: "sub" }, `approved by ${ticket.approvers.join(", ")}`) : null),
    timeCell(ticket.expires_at),
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
    document.getElementById("count").textContent = items.length
      ? `${items.length} waiting for you (updated ${when(Date.now() / 1000)})`
      : "Nothing waits for you to decide.";
    if (clear) message("");
  } catch (error) {
    document.getElementById("count").textContent = "Could not load the tickets.";
    message(error.message);
  }
}

header();
document.getElementById("refresh").addEventListener("click", () => load());
load();
every(10000, () => {
  const typing = document.activeElement && document.activeElement.name === "reason" && document.activeElement.value;
  if (!busy && !typing) load();
});
