// Shared behaviour for every page: the "?" help dialog and a fetch helper that sends the
// CSRF token. Pages work without this file; it only adds convenience.
(function () {
  "use strict";
  const meta = (name) => {
    const el = document.querySelector(`meta[name="${name}"]`);
    return el ? el.getAttribute("content") : "";
  };

  window.peregrine = {
    root: meta("root-path"),
    csrf: meta("csrf-token"),
    // fetch() that sends JSON and the CSRF token, and throws with the server's message.
    async api(path, options = {}) {
      const init = Object.assign({ credentials: "same-origin", headers: {} }, options);
      init.headers = Object.assign({ "X-CSRF-Token": this.csrf, Accept: "application/json" }, init.headers);
      if (init.body && typeof init.body !== "string") {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(init.body);
      }
      const response = await fetch(this.root + path, init);
      const data = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(data.error || `request failed (${response.status})`);
      return data;
    },
    typing(event) {
      const t = event.target;
      return t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
    },
  };

  document.addEventListener("DOMContentLoaded", () => {
    const dialog = document.getElementById("help-dialog");
    const open = () => { if (dialog && !dialog.open) dialog.showModal(); };
    document.querySelectorAll("[data-help-open]").forEach((b) => b.addEventListener("click", open));
    document.addEventListener("keydown", (event) => {
      if (event.key === "?" && !window.peregrine.typing(event) && !event.ctrlKey && !event.metaKey) {
        event.preventDefault();
        open();
      }
    });
  });
})();
