// tomoni's own script: small enhancements over pages that work without it. Loaded from the same
// origin (the Content-Security-Policy allows no inline script), no dependencies.
"use strict";

// Copy buttons: <button data-copy="ID" data-copied="…" data-select="…" hidden> copies the value
// of the field ID. Hidden in the HTML, shown here, so a page without scripts shows no dead button.
// Where the clipboard is refused (no permission, an old browser), the field is selected instead
// and the status line says to copy it by hand.
function tomoniCopyButtons(root) {
  root.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.dataset.copy);
    if (!field) {
      return;
    }
    var status = button.parentElement.querySelector("[role=status]");
    var say = function (text) {
      if (status) {
        status.textContent = text;
      }
    };
    button.hidden = false;
    button.addEventListener("click", function () {
      var byHand = function () {
        field.focus();
        field.select();
        say(button.dataset.select);
      };
      if (!navigator.clipboard || !window.isSecureContext) {
        byHand();
        return;
      }
      navigator.clipboard.writeText(field.value).then(function () {
        say(button.dataset.copied);
      }, byHand);
    });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  tomoniCopyButtons(document);
});
