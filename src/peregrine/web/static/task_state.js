// Live task progress on the Apply and Prep pages: while a task for this job is queued or
// running, fetch the page again every few seconds and swap in the fresh task panels. When a
// task ends, offer a reload rather than reloading: the user may be typing in the letter.
(function () {
  "use strict";
  const ACTIVE = ["queued", "running"];
  const activePanels = () =>
    [...document.querySelectorAll("[data-task-state]")].filter((el) => ACTIVE.includes(el.dataset.status));

  document.addEventListener("DOMContentLoaded", () => {
    if (!activePanels().length) return;
    const timer = setInterval(async () => {
      let fresh;
      try {
        const response = await fetch(window.location.href, { credentials: "same-origin" });
        if (!response.ok) return;
        fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      } catch (error) {
        return; // offline for a moment: try again on the next tick
      }
      activePanels().forEach((panel) => {
        const next = fresh.querySelector(`[data-task-state][data-kind="${panel.dataset.kind}"]`);
        if (!next) return;
        const replacement = document.importNode(next, true);
        if (!ACTIVE.includes(replacement.dataset.status)) {
          const link = document.createElement("a");
          link.href = window.location.href;
          link.textContent = "Reload the page to see the result";
          const line = document.createElement("p");
          line.appendChild(link);
          replacement.appendChild(line);
        }
        panel.replaceWith(replacement);
      });
      if (!activePanels().length) clearInterval(timer);
    }, 3000);
  });
})();
