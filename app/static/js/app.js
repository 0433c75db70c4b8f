// Small behaviours htmx does not cover. No inline scripts: the CSP forbids them.
(function () {
  "use strict";

  // Forms with data-confirm ask before a costly or irreversible change.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // htmx does not swap error responses; tell the user what happened instead of
  // leaving the page silently unchanged.
  function toast(message) {
    var box = document.getElementById("toast");
    if (!box) {
      box = document.createElement("div");
      box.id = "toast";
      box.className = "toast";
      box.setAttribute("role", "alert");
      document.body.appendChild(box);
    }
    box.textContent = message;
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.hidden = true; }, 6000);
  }

  // A 422 carries the form back with its problems marked: show it like a success.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    var messages = {
      400: "The form expired. Reload the page and try again.",
      403: "Your roles do not allow this.",
      404: "That item no longer exists.",
      429: "Too many requests; wait a moment.",
    };
    toast(messages[status] || "The server could not complete that (error " + status + "). Try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    toast("Leadline cannot be reached. Check your connection; nothing was saved.");
  });
})();
