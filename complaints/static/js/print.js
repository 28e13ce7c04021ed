// The print view of a case (casework/print.html): a button for the browser's print dialogue.
// Without script the button stays hidden and the page says to use the browser's print.
(function () {
  "use strict";
  var holder = document.querySelector("[data-print-button]");
  if (!holder) {
    return;
  }
  holder.hidden = false;
  holder.querySelector("button").addEventListener("click", function () {
    window.print();
  });
})();
