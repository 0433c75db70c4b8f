// The social queue's keyboard: each shortcut clicks the element carrying its
// data-key, so the keys do exactly what the buttons on screen do.
(function () {
  "use strict";

  // "sending": a step is on its way; a key now (a double press) is dropped, never
  // applied to the task that comes next. "settling": the next task is on screen
  // but htmx has not wired its buttons yet; a key now waits for that.
  var phase = "idle";
  var waitingKey = null;

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

  function press(key) {
    var dialog = help();
    var queue = document.getElementById("social-task");
    if (!queue || (dialog && dialog.open)) { return false; }
    var target = queue.querySelector('[data-key="' + CSS.escape(key) + '"]');
    if (!target || target.matches(":disabled")) { return false; }
    target.click();
    return true;
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
    var key = event.key.toLowerCase();
    if (phase === "sending") {
      event.preventDefault();
    } else if (phase === "settling") {
      event.preventDefault();
      waitingKey = key;
    } else if (press(key)) {
      event.preventDefault();
    }
  });

  function inQueue(event) {
    return event.target.closest && event.target.closest("#social-task");
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (inQueue(event)) { phase = "sending"; }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (inQueue(event)) { phase = "settling"; }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!inQueue(event)) { return; }
    phase = "idle";
    var key = waitingKey;
    waitingKey = null;
    if (key) { press(key); }
  });
  ["htmx:responseError", "htmx:sendError"].forEach(function (name) {
    document.addEventListener(name, function () { phase = "idle"; });
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-social-help]")) {
      toggleHelp();
    }
  });
})();
