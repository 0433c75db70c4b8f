// The dial screen's keyboard: digits pick the outcome, Enter saves and brings the
// next lead, c/n/b/s call, note, call back and skip, ? lists the keys.
(function () {
  "use strict";

  function dial() { return document.querySelector("[data-dial]"); }
  function form() { return document.getElementById("dispose"); }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "TEXTAREA" || (tag === "INPUT" && target.type !== "radio") || tag === "SELECT";
  }

  function pickOutcome(key) {
    var radio = form() && form().querySelector('input[name="outcome"][data-key="' + key + '"]');
    if (!radio) { return false; }
    radio.checked = true;
    radio.focus();
    if (radio.hasAttribute("data-callback")) { document.getElementById("callback-at").focus(); }
    return true;
  }

  function toggleShortcuts() {
    var box = document.getElementById("shortcuts");
    if (!box) { return; }
    if (box.open) { box.close(); } else { box.showModal(); }
  }

  // The call timer starts when the caller clicks a tel:/sip: link; its seconds go
  // with the disposition as the call's duration.
  var callStartedAt = null;
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-call]");
    if (link) { callStartedAt = Date.now(); }
    if (event.target.closest && event.target.closest("[data-shortcuts-toggle]")) { toggleShortcuts(); }
  });

  document.addEventListener("htmx:configRequest", function (event) {
    var field = form() && form().querySelector("[data-duration]");
    if (field && callStartedAt !== null && event.detail.elt && event.detail.elt.closest("#dispose")) {
      event.detail.parameters.duration = String(Math.round((Date.now() - callStartedAt) / 1000));
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target === dial()) {
      callStartedAt = null;
      notifyCallbacks();
    }
  });

  // A refused disposition (422) comes back as the card with the message: show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 422 && event.detail.target === dial()) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("keydown", function (event) {
    if (!dial() || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target;
    if (event.key === "Escape" && typing(target)) { target.blur(); return; }
    if (event.key === "Enter" && form() && target.tagName !== "TEXTAREA" && target.tagName !== "BUTTON" && target.tagName !== "A") {
      event.preventDefault();
      // A form swapped in a moment ago may not be wired by htmx yet; without this a
      // fast Enter would post it as a plain form and reload the page.
      if (window.htmx) { window.htmx.process(form()); }
      form().requestSubmit();
      return;
    }
    if (typing(target)) { return; }
    var key = event.key;
    var handled = true;
    if (key === "?") { toggleShortcuts(); }
    else if (key === "c") {
      var call = document.querySelector("a.call[data-call]");
      if (call) { call.click(); } else { handled = false; }
    }
    else if (key === "n") { var note = document.getElementById("dial-note"); if (note) { note.focus(); } }
    else if (key === "b") { pickOutcome(callbackKey()); }
    else if (key === "s") { var skip = document.querySelector("[data-skip]"); if (skip) { skip.click(); } }
    else { handled = pickOutcome(key); }
    if (handled) { event.preventDefault(); }
  });

  function callbackKey() {
    var radio = form() && form().querySelector('input[name="outcome"][data-callback]');
    return radio ? radio.getAttribute("data-key") : "";
  }

  // Optional browser notification when callbacks are due (asked for on the Dial page):
  // once for each rise in the count, not on every lead of the session.
  function notifyCallbacks() {
    var due = document.querySelector("[data-due-callbacks]");
    var count = due ? Number(due.getAttribute("data-due-callbacks")) : 0;
    var told = Number(window.sessionStorage.getItem("dial-callbacks-told") || 0);
    window.sessionStorage.setItem("dial-callbacks-told", String(count));
    if (count > told && window.Notification && Notification.permission === "granted") {
      new Notification("Leadline", { body: due.textContent.trim(), tag: "dial-callbacks" });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector("[data-enable-notifications]");
    if (button && window.Notification && Notification.permission === "default") {
      button.hidden = false;
      button.addEventListener("click", function () {
        Notification.requestPermission().then(function () { button.hidden = true; });
      });
    }
  });
})();
