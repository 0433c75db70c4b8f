// The pipeline board's drag and drop. Every card also has a Move button, which
// is what keyboards and screen readers use; this only adds the pointer way.
(function () {
  "use strict";

  var dragged = null;

  function columnOf(element) {
    return element && element.closest ? element.closest("[data-stage-id]") : null;
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".deal-card");
    if (!card) { return; }
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-deal-id"));
  });

  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
    document.querySelectorAll(".drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
  });

  // Near the board's edge a drag scrolls it, so off-screen columns can be reached.
  function scrollBoard(event) {
    var board = document.querySelector(".board-columns");
    if (!board) { return; }
    var box = board.getBoundingClientRect();
    if (event.clientX > box.right - 60) { board.scrollLeft += 20; }
    if (event.clientX < box.left + 60) { board.scrollLeft -= 20; }
  }

  document.addEventListener("dragover", function (event) {
    if (dragged) { scrollBoard(event); }
    var column = columnOf(event.target);
    if (!dragged || !column) { return; }
    event.preventDefault(); // allows the drop
    column.classList.add("drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var column = columnOf(event.target);
    if (column && !column.contains(event.relatedTarget)) { column.classList.remove("drop-target"); }
  });

  document.addEventListener("drop", function (event) {
    var column = columnOf(event.target);
    if (!dragged || !column) { return; }
    event.preventDefault();
    var card = dragged;
    var stageId = column.getAttribute("data-stage-id");
    if (columnOf(card).getAttribute("data-stage-id") === stageId) { return; }
    column.querySelector(".deal-cards").prepend(card); // show the move before the answer
    // The card's own form posts, so htmx sends the CSRF header and swaps the board.
    var select = card.querySelector("select[name=stage_id]");
    select.value = stageId;
    card.querySelector("form.move-form").requestSubmit();
  });
})();
