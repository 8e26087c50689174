/* IDMS web UI: the only script of ours (no inline script: the CSP forbids it).
 * - A Manage menu item fetched by htmx into <dialog id="dialog"> opens it modal;
 *   Cancel and Escape close it; focus goes back to the menu.
 * - Inside an open dialog, a form whose answer replaces the dialog's content
 *   (Add Job's Preview) keeps the dialog open; focus goes to [data-focus]
 *   (or the first invalid field) of the new content.
 * - Type-to-confirm: the confirm button stays disabled until the typed value
 *   equals the input's data-expect (the server checks it again).
 * - Live readers: the element with data-live names the page's event stream
 *   (Server-Sent Events); "readers" events replace the reader table, "tap"
 *   and "unreadable" events the tapped card (#tap, Enrol) or head the feed
 *   (#taps, Readers). The fragments are the server's escaped HTML.
 *   data-stream on that element is "open" while the stream is connected.
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

  function live() {
    var src = document.querySelector("[data-live]");
    if (!src || !window.EventSource) { return; }
    var es = new EventSource(src.dataset.live);
    /* data-stream says whether taps arrive now (the browser reconnects by itself). */
    es.addEventListener("open", function () { src.dataset.stream = "open"; });
    es.addEventListener("error", function () { src.dataset.stream = "reconnecting"; });
    es.addEventListener("readers", function (e) {
      var list = document.getElementById("reader-list");
      if (list) { list.innerHTML = e.data; }
    });
    var card = function (e) {
      var one = document.getElementById("tap");
      var feed = document.getElementById("taps");
      if (one) {
        one.innerHTML = e.data;
      } else if (feed) {
        var li = document.createElement("li");
        li.innerHTML = e.data;
        feed.prepend(li);
        while (feed.children.length > 20) { feed.lastElementChild.remove(); }
      }
    };
    es.addEventListener("tap", card);
    es.addEventListener("unreadable", card);
  }

  document.addEventListener("DOMContentLoaded", function () { arm(document); live(); });

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
