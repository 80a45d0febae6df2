// The review queue in the browser: the map of the page's reports beside the list (the public
// map's markers, clustered 40 px apart like the server clusters them; choosing a row marks its
// marker and choosing a marker focuses its row), the area filter from the map's view or a place
// search, response templates that fill the note, row selection for bulk actions (shift-click
// for a range), keyboard shortcuts while focus is in the queue (unless switched off in
// /account), and the draggable pin of a row's correction panel. Rows come from the server, which
// also re-renders a row after each action (htmx); everything here works from data- attributes,
// so no inline script is needed.
(function () {
  "use strict";
  var queue = document.getElementById("queue");
  if (!queue) return;
  var HW = window.HW || {};

  function rows() { return Array.prototype.slice.call(queue.querySelectorAll(".queue-row")); }
  function rowOf(el) { return el && el.closest ? el.closest(".queue-row") : null; }

  // --- The map of the page ------------------------------------------------------------------

  var mapEl = document.getElementById("queue-map");
  var map = null, layer = null, current = null, byId = {};
  var words = {};
  if (mapEl && window.L) {
    var d = mapEl.dataset;
    words = JSON.parse(d.labels || "{}");
    map = L.map(mapEl, { maxZoom: 19 });
    fit(); // the first view before any tile is asked for: a later jump would cancel their loading
    L.tileLayer(d.tileUrl, { maxZoom: 19, attribution: d.attribution }).addTo(map);
    layer = L.layerGroup().addTo(map);
    map.on("zoomend", draw);
    map.on("moveend", function () {
      var q = document.getElementById("place-q");
      if (q) q.dataset.near = map.getCenter().lat.toFixed(4) + "," + map.getCenter().lng.toFixed(4);
    });
  }
  function typeWords(code) { return (words.types && words.types[code]) || { label: code, icon: "!" }; }
  function describe(p) {
    return [typeWords(p.type).label, (words.severities && words.severities[p.severity]) || p.severity,
      (words.statuses && words.statuses[p.status]) || p.status].join(", ");
  }
  function points() {
    return rows().map(function (r) {
      var d = r.dataset;
      return { id: d.id, type: d.type, severity: d.severity, status: d.status, ll: L.latLng(parseFloat(d.lat), parseFloat(d.lng)) };
    });
  }
  var sevRank = { low: 0, medium: 1, high: 2 };
  // Greedy clustering at the current zoom: the same rule as the server's (no two features closer
  // than 40 px), good for the fifty reports of a page.
  function clusters(pts) {
    var out = [];
    pts.forEach(function (p) {
      var px = map.latLngToLayerPoint(p.ll);
      for (var i = 0; i < out.length; i++) {
        if (out[i].px.distanceTo(px) < 40) { out[i].members.push(p); return; }
      }
      out.push({ px: px, members: [p] });
    });
    return out;
  }
  function icon(cls, html, size, label) {
    var inner = document.createElement("span");
    inner.textContent = html;
    inner.setAttribute("role", "img");
    inner.setAttribute("aria-label", label);
    return L.divIcon({ className: cls, html: inner, iconSize: [size, size] });
  }
  function draw() {
    if (!map) return;
    layer.clearLayers();
    byId = {};
    clusters(points()).forEach(function (c) {
      var m;
      if (c.members.length === 1) {
        var p = c.members[0];
        m = L.marker(p.ll, { icon: icon("hazard-marker sev-" + p.severity + " status-" + p.status, typeWords(p.type).icon, 30, describe(p)), keyboard: false, title: describe(p) });
        m.on("click", function () { focusRow(document.getElementById("mod-" + p.id)); });
      } else {
        var top = c.members.reduce(function (a, b) { return sevRank[b.severity] > sevRank[a.severity] ? b : a; });
        var n = c.members.length, size = n < 10 ? ["s", 28] : ["m", 32];
        m = L.marker(c.members[0].ll, { icon: icon("cluster cluster-" + size[0] + " sev-" + top.severity, String(n), size[1], String(n)), keyboard: false, title: String(n) });
        m.on("click", function () { map.fitBounds(L.latLngBounds(c.members.map(function (p) { return p.ll; })), { padding: [40, 40], maxZoom: 19 }); });
      }
      c.members.forEach(function (p) { byId[p.id] = m; });
      m.addTo(layer);
    });
    mark(current);
    mapEl.dataset.markers = String(Object.keys(byId).length);
  }
  // fit shows the area filter's box, or else the page's reports, or else the configured view.
  function fit() {
    var d = mapEl.dataset, bbox = document.getElementById("queue-bbox"), pts = points();
    if (bbox && bbox.value) {
      var b = bbox.value.split(",").map(parseFloat);
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
    } else if (pts.length) {
      map.fitBounds(L.latLngBounds(pts.map(function (p) { return p.ll; })), { padding: [30, 30], maxZoom: 16 });
    } else {
      map.setView([parseFloat(d.lat), parseFloat(d.lng)], parseInt(d.zoom, 10));
    }
  }
  // mark shows which row is current, on the list and on the map.
  function mark(id) {
    current = id;
    rows().forEach(function (r) { r.classList.toggle("is-current", r.dataset.id === id); });
    if (!map) return;
    layer.eachLayer(function (m) { var el = m.getElement(); if (el) el.classList.remove("is-current"); });
    var m = id && byId[id];
    if (m && m.getElement()) {
      m.getElement().classList.add("is-current");
      mapEl.dataset.current = id;
    }
  }
  function focusRow(r) {
    if (!r) return;
    r.focus();
    r.scrollIntoView({ block: "nearest" });
  }
  queue.addEventListener("focusin", function (e) { var r = rowOf(e.target); if (r) mark(r.dataset.id); });
  queue.addEventListener("mouseover", function (e) { var r = rowOf(e.target); if (r && r.dataset.id !== current) mark(r.dataset.id); });

  // The area filter: the map's view, or a place found with the search box (never a typed box).
  var filters = document.getElementById("queue-filters");
  function filterToView() {
    var bbox = document.getElementById("queue-bbox");
    if (!map || !bbox || !filters) return;
    bbox.value = HW.boxParam(HW.alignBox(map.getBounds(), map.getZoom()));
    filters.submit();
  }
  var useView = document.getElementById("queue-use-view");
  if (useView) useView.addEventListener("click", filterToView);
  document.addEventListener("hw:place", function (e) {
    if (!map) return;
    map.setView([e.detail.lat, e.detail.lng], 14, { animate: false });
    filterToView();
  });
  if (filters) {
    // Enter in the place box picks a suggestion (search.js); it must not submit the filters.
    filters.addEventListener("submit", function (e) {
      if (document.activeElement && document.activeElement.id === "place-q") e.preventDefault();
    });
  }

  // --- Templates, selection ----------------------------------------------------------------

  function templateFor(sel) {
    var form = sel.form;
    var action = form && form.querySelector('select[name="action"]');
    var note = document.getElementById(sel.dataset.note);
    function filter() {
      var a = action ? action.value : "";
      Array.prototype.forEach.call(sel.options, function (o) {
        o.hidden = !!(o.value && o.dataset.action !== a);
      });
      if (sel.selectedOptions[0] && sel.selectedOptions[0].hidden) sel.value = "";
    }
    if (action) action.addEventListener("change", filter);
    sel.addEventListener("change", function () {
      var o = sel.selectedOptions[0];
      if (note && o && o.value) note.value = o.dataset.text;
    });
    filter();
  }
  function setup(root) {
    Array.prototype.forEach.call(root.querySelectorAll('select[name="template"]'), templateFor);
    Array.prototype.forEach.call(root.querySelectorAll(".row-map"), rowMap);
  }

  var lastBox = null;
  queue.addEventListener("click", function (e) {
    var box = e.target.closest && e.target.closest(".row-select");
    if (!box) return;
    var boxes = Array.prototype.slice.call(queue.querySelectorAll(".row-select"));
    if (e.shiftKey && lastBox && boxes.indexOf(lastBox) >= 0) {
      var a = boxes.indexOf(lastBox), b = boxes.indexOf(box);
      boxes.slice(Math.min(a, b), Math.max(a, b) + 1).forEach(function (x) { x.checked = box.checked; });
    }
    lastBox = box;
  });
  var all = document.getElementById("select-all");
  if (all) all.addEventListener("change", function () {
    Array.prototype.forEach.call(queue.querySelectorAll(".row-select"), function (x) { x.checked = all.checked; });
  });

  // --- Keyboard shortcuts --------------------------------------------------------------------

  var help = document.getElementById("queue-help");
  function toggleHelp() {
    if (!help) return;
    if (help.open) help.close(); else help.showModal();
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-queue-help]"), function (b) {
    if (queue.dataset.shortcuts === "on") b.addEventListener("click", toggleHelp);
    else b.hidden = true;
  });
  var typing = 'input:not([type="checkbox"]), textarea, select, [contenteditable="true"]';
  var after = null; // {id, next}: where focus goes once htmx has replaced the row
  function submitAction(r, action, next) {
    var form = r.querySelector(".row-actions");
    var sel = form && form.querySelector('select[name="action"]');
    if (!sel || !Array.prototype.some.call(sel.options, function (o) { return o.value === action; })) return false;
    sel.value = action;
    sel.dispatchEvent(new Event("change"));
    after = { id: r.id, next: next };
    form.requestSubmit();
    return true;
  }
  queue.addEventListener("keydown", function (e) {
    if (queue.dataset.shortcuts !== "on" || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.matches && e.target.matches(typing)) return;
    var r = rowOf(e.target);
    if (!r) return;
    var list = rows(), i = list.indexOf(r), done = true;
    switch (e.key) {
      case "j": focusRow(list[Math.min(i + 1, list.length - 1)]); break;
      case "k": focusRow(list[Math.max(i - 1, 0)]); break;
      case "a": done = submitAction(r, "approve", list[i + 1] && list[i + 1].id); break;
      case "r": {
        var form = r.querySelector(".row-actions"), sel = form && form.querySelector('select[name="action"]');
        if (sel && Array.prototype.some.call(sel.options, function (o) { return o.value === "reject"; })) {
          sel.value = "reject";
          sel.dispatchEvent(new Event("change"));
          form.querySelector(".row-note").focus();
        } else done = false;
        break;
      }
      case "d": {
        var first = r.querySelector('[data-testid="duplicate-of"]');
        if (first) {
          after = { id: r.id, next: list[i + 1] && list[i + 1].id };
          first.click();
        } else {
          // No candidate nearby: the id field is the fallback.
          var dup = r.querySelector('input[name="duplicate_of"]');
          if (dup) {
            var s = r.querySelector('.row-actions select[name="action"]');
            s.value = "duplicate";
            s.dispatchEvent(new Event("change"));
            dup.focus();
          } else done = false;
        }
        break;
      }
      case "x": { var box = r.querySelector(".row-select"); if (box) box.checked = !box.checked; break; }
      case "?": toggleHelp(); break;
      default: done = false;
    }
    if (done) e.preventDefault();
  });

  // --- A row's panel: the pin to drag -------------------------------------------------------

  function rowMap(el) {
    if (!window.L || el.dataset.ready) return;
    el.dataset.ready = "1";
    var form = el.closest("form"), lat = form.querySelector(".row-lat"), lng = form.querySelector(".row-lng");
    var ll = [parseFloat(el.dataset.lat), parseFloat(el.dataset.lng)];
    var m = L.map(el, { maxZoom: 19 }).setView(ll, 17);
    L.tileLayer(mapEl ? mapEl.dataset.tileUrl : "", { maxZoom: 19, attribution: mapEl ? mapEl.dataset.attribution : "" }).addTo(m);
    var pin = L.marker(ll, { draggable: true, autoPan: true, title: el.getAttribute("aria-label") }).addTo(m);
    pin.on("dragend", function () {
      var p = pin.getLatLng();
      lat.value = p.lat.toFixed(6);
      lng.value = p.lng.toFixed(6);
      el.dataset.moved = "1";
    });
    function fromFields() {
      var a = parseFloat(lat.value), b = parseFloat(lng.value);
      if (!isNaN(a) && !isNaN(b)) { pin.setLatLng([a, b]); m.panTo([a, b]); }
    }
    lat.addEventListener("change", fromFields);
    lng.addEventListener("change", fromFields);
  }

  // htmx replaces a row after each action: set it up, redraw the map, and put focus where the
  // keyboard user expects it.
  document.addEventListener("htmx:load", function (e) {
    var el = e.detail && e.detail.elt;
    if (!el || !el.classList || !el.classList.contains("queue-row")) return;
    setup(el);
    draw();
    if (after && el.id === after.id) {
      var next = after.next && document.getElementById(after.next);
      after = null;
      focusRow(next || el);
    }
  });

  setup(document);
  draw();
})();
