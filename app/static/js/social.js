// The social queue's keyboard: each shortcut clicks the element carrying its
// data-key, so the keys do exactly what the buttons on screen do.
(function () {
  "use strict";

  function help() {
    return document.getElementById("social-help");
  }

  function toggleHelp() {
    var dialog = help();
    if (!dialog) { return; }
    if (dialog.open) { dialog.close(); } else { dialog.showModal(); }
  }

  function typing(target) {
    return target && target.closest && target.closest("input, textarea, select, [contenteditable]");
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    if (event.key === "?") {
      event.preventDefault();
      toggleHelp();
      return;
    }
    var dialog = help();
    var queue = document.getElementById("social-task");
    if (!queue || (dialog && dialog.open)) { return; }
    var target = queue.querySelector('[data-key="' + CSS.escape(event.key.toLowerCase()) + '"]');
    if (target && !target.disabled) {
      event.preventDefault();
      target.click();
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-social-help]")) {
      toggleHelp();
    }
  });
})();
