// Home: live progress of running tasks. Without JavaScript the list is rendered on the
// server and refreshed by reloading the page.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", () => {
    const list = document.querySelector("[data-tasks-list]");
    if (!list) return;
    let idle = 0;
    const draw = (items) => {
      list.replaceChildren();
      if (!items.length) {
        const li = document.createElement("li");
        li.className = "muted";
        li.textContent = "Nothing running.";
        list.append(li);
        return;
      }
      for (const task of items) {
        const li = document.createElement("li");
        const name = document.createElement("strong");
        name.textContent = task.kind;
        const state = document.createElement("span");
        state.className = "muted";
        state.textContent = ` ${task.status}${task.stage ? " · " + task.stage : ""} `;
        const bar = document.createElement("progress");
        bar.max = 1;
        bar.value = task.progress || 0;
        bar.textContent = `${Math.round((task.progress || 0) * 100)}%`;
        li.append(name, state, bar);
        list.append(li);
      }
    };
    const poll = async () => {
      try {
        const data = await window.peregrine.api("/api/v1/tasks?active=1");
        draw(data.items || []);
        idle = data.items && data.items.length ? 0 : idle + 1;
      } catch (error) {
        idle += 1;
      }
      // Poll fast while something runs, slowly when idle.
      setTimeout(poll, idle > 2 ? 10000 : 1500);
    };
    poll();
  });
})();
