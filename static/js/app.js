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
    flash("Could not reach Hazard Watch. Check your connection and try again.");
  });
  document.addEventListener("htmx:timeout", function () {
    flash("The server took too long to answer. Please try again.");
  });
})();
