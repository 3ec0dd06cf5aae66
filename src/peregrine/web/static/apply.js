// Apply workspace: copy buttons for profile fields, résumé lines, the letter and answers.
(function () {
  "use strict";
  const copy = async (text, button) => {
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      // Clipboard access can be refused (e.g. plain http on another host): select instead.
      const range = document.createRange();
      range.selectNodeContents(button.previousElementSibling || button);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1200);
  };
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-copy]").forEach((button) => {
      button.addEventListener("click", () => {
        const source = button.parentElement.querySelector("[data-copy-source]");
        if (source) copy(source.textContent.trim(), button);
      });
    });
    document.querySelectorAll("[data-copy-field]").forEach((button) => {
      button.addEventListener("click", () => {
        const field = document.getElementById(button.dataset.copyField);
        if (field) copy(field.value, button);
      });
    });
  });
})();
