// The address box: htmx fills #place-suggestions as you type; this makes the list a keyboard
// combobox (arrows, Enter, Escape) and announces the chosen place as an "hw:place" event that
// the map (and the report form) listen for, or "hw:use-map" when nothing was found. Each request
// sends the centre of the map (data-near, kept by map.js and report.js) so nearby places come
// first. Without JavaScript the form simply submits.
(function () {
  "use strict";
  var input = document.getElementById("place-q");
  var list = document.getElementById("place-suggestions");
  if (!input || !list) return;
  var active = -1;

  function options() {
    return Array.prototype.slice.call(list.querySelectorAll('[role="option"]:not([aria-disabled="true"])'));
  }
  function open(yes) {
    input.setAttribute("aria-expanded", yes ? "true" : "false");
    list.classList.toggle("open", yes);
    if (!yes) {
      active = -1;
      input.removeAttribute("aria-activedescendant");
    }
  }
  function highlight(i) {
    var opts = options();
    if (!opts.length) return;
    active = (i + opts.length) % opts.length;
    opts.forEach(function (o, j) { o.setAttribute("aria-selected", j === active ? "true" : "false"); });
    input.setAttribute("aria-activedescendant", opts[active].id);
    opts[active].scrollIntoView({ block: "nearest" });
  }
  function choose(opt) {
    var d = opt.dataset;
    open(false);
    if (d.action === "map") {
      document.dispatchEvent(new CustomEvent("hw:use-map"));
      return;
    }
    input.value = d.label;
    document.dispatchEvent(new CustomEvent("hw:place", {
      detail: { lat: parseFloat(d.lat), lng: parseFloat(d.lng), label: d.label }
    }));
  }

  input.addEventListener("htmx:configRequest", function (e) {
    if (input.dataset.near) e.detail.parameters.near = input.dataset.near;
  });
  list.addEventListener("htmx:afterSwap", function () {
    active = -1;
    open(list.children.length > 0 && document.activeElement === input);
  });
  // htmx fires afterSwap on the target; listen on the document too, for older bubbling rules.
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.target === list) open(list.children.length > 0 && document.activeElement === input);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { e.preventDefault(); if (list.children.length) { open(true); highlight(active + 1); } }
    else if (e.key === "ArrowUp") { e.preventDefault(); if (list.children.length) { open(true); highlight(active - 1); } }
    else if (e.key === "Enter" && active >= 0) { e.preventDefault(); choose(options()[active]); }
    else if (e.key === "Escape") { open(false); }
  });
  list.addEventListener("mousedown", function (e) { e.preventDefault(); }); // keep focus in the box
  list.addEventListener("click", function (e) {
    var opt = e.target.closest('[role="option"]');
    if (opt && opt.getAttribute("aria-disabled") !== "true") choose(opt);
  });
  input.addEventListener("blur", function () { open(false); });
})();
