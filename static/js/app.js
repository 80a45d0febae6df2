// Site-wide behaviour: tell the user when a request could not reach the server. The CSRF token
// travels in hx-headers on <body>; nothing here runs inline, so the CSP can forbid inline script.
(function () {
  "use strict";
  document.documentElement.classList.add("js"); // shows controls that need JavaScript
  function flash(message) {
    var area = document.getElementById("flash");
    if (!area) return;
    var div = document.createElement("div");
    div.className = "flash flash-error";
    div.setAttribute("role", "alert");
    div.textContent = message;
    area.replaceChildren(div);
  }
  document.addEventListener("htmx:sendError", function () {
    if (!navigator.onLine) return; // offline: the offline note says so, and the form keeps reports
    flash("Could not reach Hazard Watch. Check your connection and try again.");
  });
  document.addEventListener("htmx:timeout", function () {
    flash("The server took too long to answer. Please try again.");
  });
  // A form sent back with errors: its summary takes focus, so it is read first (GOV.UK pattern).
  function focusSummary(root) {
    var s = root.querySelector && root.querySelector("[data-error-summary]");
    if (s) s.focus();
  }
  focusSummary(document);
  document.addEventListener("htmx:afterSettle", function (e) { focusSummary(e.detail.elt || document); });
  // Times in the viewer's own time zone and language: <time datetime="..." data-local-time>.
  var when = new Intl.DateTimeFormat(document.documentElement.lang || "en", { dateStyle: "medium", timeStyle: "short" });
  document.querySelectorAll("time[data-local-time]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) t.textContent = when.format(d);
  });
})();
