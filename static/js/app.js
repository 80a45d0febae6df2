// Site-wide behaviour: the browser's words (hwT), times in the viewer's language and time zone,
// and a message when a request could not reach the server. The words come from the per-language
// script loaded before this one (window.hwI18n, from the catalogs' "js." messages); the CSRF
// token travels in hx-headers on <body>; nothing here runs inline, so the CSP can forbid inline
// script.
(function () {
  "use strict";
  document.documentElement.classList.add("js"); // shows controls that need JavaScript
  var i18n = window.hwI18n || { lang: document.documentElement.lang || "en", messages: {} };
  var lang = i18n.lang;
  var numbers = new Intl.NumberFormat(lang);
  var plurals = new Intl.PluralRules(lang);

  // hwT says catalog message id, filling {{.Name}} from data; data.Count (a number) picks the
  // plural form the language's CLDR rules give.
  window.hwT = function (id, data) {
    var forms = i18n.messages[id];
    if (!forms) return id;
    var text = forms.other;
    if (data && typeof data.Count === "number") text = forms[plurals.select(data.Count)] || forms.other;
    return text.replace(/\{\{\s*\.(\w+)\s*\}\}/g, function (_, name) {
      var v = data ? data[name] : undefined;
      if (v === undefined || v === null) return "";
      return typeof v === "number" ? numbers.format(v) : String(v);
    });
  };

  // hwAgo says how long before now an instant was ("5 minutes ago", "לפני 5 דקות"), by CLDR.
  var relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(lang, { numeric: "auto" }) : null;
  var full = new Intl.DateTimeFormat(lang, { dateStyle: "long", timeStyle: "short" });
  var day = new Intl.DateTimeFormat(lang, { dateStyle: "long" });
  window.hwAgo = function (date) {
    var s = (date.getTime() - Date.now()) / 1000; // negative: the past
    if (!relative || s < -31 * 86400) return day.format(date);
    if (s > -60) return relative.format(0, "second");
    if (s > -3600) return relative.format(Math.ceil(s / 60), "minute");
    if (s > -86400) return relative.format(Math.ceil(s / 3600), "hour");
    return relative.format(Math.ceil(s / 86400), "day");
  };

  // Times the server wrote in its own zone are rewritten in the viewer's zone and language:
  // <time datetime> gets the date and time, <time datetime data-relative> "5 minutes ago" with the
  // full date as its title.
  function localTimes(root) {
    Array.prototype.forEach.call(root.querySelectorAll("time[datetime]"), function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d.getTime())) return;
      if (t.dataset.relative) {
        t.textContent = window.hwAgo(d);
        t.title = full.format(d);
      } else {
        t.textContent = full.format(d);
      }
      t.dataset.local = "true";
    });
  }
  localTimes(document);
  document.addEventListener("htmx:load", function (e) { localTimes(e.target); });

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
    flash(window.hwT("js.net.unreachable"));
  });
  document.addEventListener("htmx:timeout", function () { flash(window.hwT("js.net.timeout")); });
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
