// Review: keyboard shortcuts. Each shortcut presses the same button a mouse user would, so
// the no-JavaScript path (plain forms, POST-redirect-GET) is the only code path.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", () => {
    const cards = Array.from(document.querySelectorAll("[data-job-card]"));
    let current = 0;
    const focus = (index) => {
      if (!cards.length) return;
      current = Math.max(0, Math.min(cards.length - 1, index));
      cards.forEach((c, i) => c.classList.toggle("current", i === current));
      cards[current].focus({ preventScroll: true });
      cards[current].scrollIntoView({ block: "nearest" });
    };
    const press = (action) => {
      const card = cards[current];
      const button = card && card.querySelector(`button[data-action="${action}"]`);
      if (button) button.click();
    };
    cards.forEach((card, i) => card.addEventListener("focusin", () => {
      current = i;
      cards.forEach((c, j) => c.classList.toggle("current", j === i));
    }));
    document.addEventListener("keydown", (event) => {
      if (window.peregrine.typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
      const keys = {
        j: () => focus(current + 1),
        k: () => focus(current - 1),
        a: () => press("approve"),
        d: () => press("dismiss"),
        s: () => press("skip"),
        u: () => document.querySelector("#undo-form button").click(),
        x: () => {
          const box = cards[current] && cards[current].querySelector("[data-select]");
          if (box) box.checked = !box.checked;
        },
      };
      const run = keys[event.key];
      if (run) {
        event.preventDefault();
        run();
      }
    });
    if (cards.length) focus(0);
  });
})();
