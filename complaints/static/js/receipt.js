// The receipt page: print the receipt code, or save it as a text file made here, in the
// browser. The code never goes to the server again and never into an address: the download
// is a blob made from the page itself. Without script the buttons stay hidden (a .button's
// display would override its own hidden attribute, so their box is hidden); the page says to
// write the code down, and the browser's own print still uses the print stylesheet.
(function () {
  "use strict";
  var box = document.querySelector("[data-receipt]");
  if (!box) {
    return;
  }
  var printButton = box.querySelector("[data-receipt-print]");
  var saveButton = box.querySelector("[data-receipt-save]");

  function savedText() {
    var parts = [];
    document.querySelectorAll("[data-receipt-text]").forEach(function (element) {
      parts.push(element.textContent.replace(/\s+/g, " ").trim());
    });
    return parts.join("\r\n\r\n") + "\r\n";
  }

  box.hidden = false;
  if (printButton) {
    printButton.addEventListener("click", function () {
      window.print();
    });
  }
  if (saveButton) {
    saveButton.addEventListener("click", function () {
      var url = URL.createObjectURL(new Blob([savedText()], { type: "text/plain;charset=utf-8" }));
      var link = document.createElement("a");
      link.href = url;
      link.download = saveButton.getAttribute("data-filename") || "receipt-code.txt";
      document.body.appendChild(link);
      link.click();
      link.remove();
      // Not kept: the text exists only while it is being saved.
      setTimeout(function () {
        URL.revokeObjectURL(url);
      }, 0);
    });
  }
})();
