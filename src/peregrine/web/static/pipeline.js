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
    const recount = () => {
      document.querySelectorAll(".kcolumn").forEach((col) => {
        const count = col.querySelector("[data-count]");
        if (count) count.textContent = `(${col.querySelectorAll("[data-card]").length})`;
      });
    };
    let dragged = null;

    document.querySelectorAll("[data-card]").forEach((card) => {
      card.addEventListener("dragstart", (event) => {
        dragged = card;
        card.classList.add("dragging");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", card.dataset.jobId);
      });
      card.addEventListener("dragend", () => {
        card.classList.remove("dragging");
        document.querySelectorAll(".drop-target").forEach((el) => el.classList.remove("drop-target"));
      });
    });

    document.querySelectorAll("[data-drop]").forEach((zone) => {
      zone.addEventListener("dragover", (event) => {
        if (!dragged) return;
        event.preventDefault();
        event.dataTransfer.dropEffect = "move";
        zone.classList.add("drop-target");
      });
      zone.addEventListener("dragleave", () => zone.classList.remove("drop-target"));
      zone.addEventListener("drop", async (event) => {
        event.preventDefault();
        zone.classList.remove("drop-target");
        const card = dragged;
        dragged = null;
        if (!card) return;
        const from = card.dataset.status;
        const to = zone.dataset.drop;
        if (to === from || to === "closed") {
          if (to === "closed") say("Use the card's Move menu to withdraw or decline.", true);
          return;
        }
        const title = card.querySelector("h3").textContent.trim();
        try {
          await window.peregrine.api(`/api/v1/jobs/${card.dataset.jobId}/move`, {
            method: "POST",
            body: { status: to },
          });
        } catch (error) {
          // Snap back: the card was never moved in the page, only the message changes.
          say(`${title} was not moved: ${error.message}`, true);
          card.classList.add("refused");
          setTimeout(() => card.classList.remove("refused"), 1200);
          return;
        }
        // The move buttons on the card are now stale; reload to get the new ones while
        // showing the card in its new column straight away.
        zone.appendChild(card);
        card.dataset.status = to;
        recount();
        say(`${title} moved.`, false);
        window.location.reload();
      });
    });
  });
})();
