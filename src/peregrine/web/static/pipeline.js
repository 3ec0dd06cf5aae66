// Pipeline board: drag a card to another column. The move goes through the JSON API (the
// same pipeline rules as the buttons); a refused move leaves the card where it was and says
// why. Without JavaScript the "Move" buttons on each card do the same.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", () => {
    const board = document.querySelector("[data-kanban]");
    if (!board) return;
    const status = document.querySelector("[data-board-status]");
    const say = (text, isError) => {
      if (!status) return;
      status.textContent = text;
      status.classList.toggle("error", Boolean(isError));
    };
    // After a move the card's buttons (its allowed moves) and the column counts are stale:
    // fetch the board again and swap it in. Listeners are delegated, so nothing to rebind.
    const refresh = async () => {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      ["[data-kanban]", "[data-closed]"].forEach((selector) => {
        const now = document.querySelector(selector);
        const next = fresh.querySelector(selector);
        if (now && next) now.innerHTML = next.innerHTML;
      });
    };
    const zoneOf = (target) => (target instanceof Element ? target.closest("[data-drop]") : null);
    let dragged = null;

    document.addEventListener("dragstart", (event) => {
      const card = event.target instanceof Element ? event.target.closest("[data-card]") : null;
      if (!card) return;
      dragged = card;
      card.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", card.dataset.jobId);
    });
    document.addEventListener("dragend", () => {
      document.querySelectorAll(".dragging, .drop-target").forEach((el) => {
        el.classList.remove("dragging", "drop-target");
      });
    });
    document.addEventListener("dragover", (event) => {
      const zone = zoneOf(event.target);
      if (!dragged || !zone) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      document.querySelectorAll(".drop-target").forEach((el) => el.classList.remove("drop-target"));
      zone.classList.add("drop-target");
    });
    document.addEventListener("drop", async (event) => {
      const zone = zoneOf(event.target);
      if (!zone) return;
      event.preventDefault();
      zone.classList.remove("drop-target");
      const card = dragged;
      dragged = null;
      if (!card) return;
      const from = card.dataset.status;
      const to = zone.dataset.drop;
      if (to === from) return;
      const title = card.querySelector("h3").textContent.trim();
      if (to === "closed") {
        say(`${title} was not moved: use its Move menu to withdraw or decline.`, true);
        return;
      }
      try {
        await window.peregrine.api(`/api/v1/jobs/${card.dataset.jobId}/move`, {
          method: "POST",
          body: { status: to },
        });
      } catch (error) {
        // Snap back: the card never left its column; only the message changes.
        say(`${title} was not moved: ${error.message}`, true);
        card.classList.add("refused");
        setTimeout(() => card.classList.remove("refused"), 1500);
        return;
      }
      zone.appendChild(card);
      card.dataset.status = to;
      await refresh();
      say(`${title} moved to ${zone.closest("section, details").querySelector("h2, summary").firstChild.textContent.trim()}.`, false);
    });
  });
})();
