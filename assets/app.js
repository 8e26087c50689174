/* IDMS web UI: the only script of ours (no inline script: the CSP forbids it).
 * - A Manage menu item fetched by htmx into <dialog id="dialog"> opens it modal;
 *   Cancel and Escape close it; focus goes back to the menu.
 * - Inside an open dialog, a form whose answer replaces the dialog's content
 *   (Add Job's Preview) keeps the dialog open; focus goes to [data-focus]
 *   (or the first invalid field) of the new content.
 * - Type-to-confirm: the confirm button stays disabled until the typed value
 *   equals the input's data-expect (the server checks it again).
 * Without this script every action is a confirmation page and a plain form. */
(function () {
  "use strict";
  var invoker = null;

  function arm(root) {
    root.querySelectorAll("input[data-expect]").forEach(function (input) {
      var button = input.form && input.form.querySelector("button[data-confirm]");
      if (!button) { return; }
      var sync = function () { button.disabled = input.value.trim() !== input.dataset.expect; };
      input.addEventListener("input", sync);
      sync();
    });
  }

  document.addEventListener("DOMContentLoaded", function () { arm(document); });

  document.addEventListener("click", function (e) {
    var item = e.target.closest("[hx-target='#dialog']");
    if (item && !item.closest("dialog")) {
      var menu = item.closest("details");
      invoker = menu ? menu.querySelector("summary") : (e.target.closest("button, a") || item);
      if (menu) { menu.open = false; }
    }
    var cancel = e.target.closest("[data-cancel]");
    if (cancel && cancel.closest("dialog")) {
      e.preventDefault();
      cancel.closest("dialog").close();
    }
  });

  document.addEventListener("htmx:afterSwap", function (e) {
    var d = document.getElementById("dialog");
    if (!d || e.detail.target !== d) { return; }
    arm(d);
    if (!d.open) { d.showModal(); }
    var first = d.querySelector("[data-focus]") || d.querySelector("[aria-invalid=true]") ||
      d.querySelector("input:not([type=hidden]), button:not([disabled]), a[href]");
    if (first) { first.focus(); }
  });

  /* "close" does not bubble: listen in the capture phase. */
  document.addEventListener("close", function (e) {
    var d = document.getElementById("dialog");
    if (e.target !== d) { return; }
    d.replaceChildren();
    if (invoker && invoker.isConnected) { invoker.focus(); }
  }, true);
})();
