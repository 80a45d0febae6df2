// The hazard map. Settings and the words for hazards come from data- attributes on #map (rendered
// from package hazard in the page's language), other words from hwT (app.js), so no inline script
// is needed and every screen names statuses alike. On every move
// (and filter change) it asks /api/reports for the view at its zoom, and adds, changes or removes
// only the markers and clusters that differ from what is drawn, so an open popup stays open.
// It keeps the URL shareable (?lat=&lng=&z=&type=&status=&since=) and refreshes the list beside
// the map, which is the keyboard and screen-reader way in: markers are not tab stops. Live
// events (/events) refresh the view only when the report is inside it.
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  var d = el.dataset;
  var words = JSON.parse(d.labels || "{}");
  var MAX_ZOOM = 19;
  // A page the service worker kept for offline use was made without this link's view: the link
  // says where to look.
  var q = new URLSearchParams(location.search);
  if (!d.fromUrl && isFinite(parseFloat(q.get("lat"))) && isFinite(parseFloat(q.get("lng")))) {
    d.lat = q.get("lat");
    d.lng = q.get("lng");
    if (isFinite(parseInt(q.get("z"), 10))) d.zoom = q.get("z");
    d.fromUrl = "true";
  }
  var rtl = document.documentElement.dir === "rtl";
  var map = L.map(el, { maxZoom: MAX_ZOOM, zoomControl: false }).setView([parseFloat(d.lat), parseFloat(d.lng)], parseInt(d.zoom, 10));
  // Controls sit on the side a reader starts from: the left in English, the right in Hebrew.
  var start = rtl ? "right" : "left", end = rtl ? "left" : "right";
  L.control.zoom({ position: "top" + start }).addTo(map);
  map.attributionControl.setPosition("bottom" + end);
  L.tileLayer(d.tileUrl, { maxZoom: MAX_ZOOM, attribution: d.attribution }).addTo(map);
  var layer = L.layerGroup().addTo(map);
  var form = document.getElementById("map-filters");
  var heatToggle = document.getElementById("heat-toggle");
  var heat = null;
  var pin = null;

  // What is drawn: key -> {marker, key, props, ll}. Reports are keyed by id, clusters by zoom,
  // place, count and severity, so a redraw of the same answer touches nothing.
  var shown = new Map();
  var answerKeys = new Set(); // the keys of the latest answer
  var openKey = null; // the marker whose popup is open
  var spread = null; // a cluster fanned out at the deepest zoom: {key, group}

  function text(tag, cls, value) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    n.textContent = value;
    return n;
  }
  function typeWords(code) { return (words.types && words.types[code]) || { label: code, icon: "!" }; }
  function severityWords(code) { return (words.severities && words.severities[code]) || code; }
  function statusWords(code) { return (words.statuses && words.statuses[code]) || code; }
  // What a marker says to a screen reader and in its tooltip: "Pothole, High severity, Unverified".
  function describe(p) { return [typeWords(p.type).label, severityWords(p.severity), statusWords(p.status)].join(", "); }

  function filterQuery() {
    var q = new URLSearchParams();
    if (!form) return q;
    ["type", "status"].forEach(function (name) {
      var vals = Array.prototype.map.call(form.querySelectorAll('input[name="' + name + '"]:checked'), function (i) { return i.value; });
      if (vals.length) q.set(name, vals.join(","));
    });
    var since = form.querySelector('input[name="since"]:checked');
    if (since && since.value) q.set("since", since.value);
    return q;
  }
  var boxParam = HW.boxParam, aligned = HW.alignBox; // grid.js
  function ago(iso) { return window.hwAgo(new Date(iso)); }

  // --- Markers and clusters ---------------------------------------------------------------

  function reportIcon(p) {
    var inner = text("span", "", typeWords(p.type).icon);
    inner.setAttribute("role", "img");
    inner.setAttribute("aria-label", describe(p));
    inner.dataset.id = p.id;
    return L.divIcon({ className: "hazard-marker sev-" + p.severity + " status-" + p.status, html: inner, iconSize: [30, 30] });
  }
  function clusterSize(n) { return n < 10 ? ["s", 28] : n < 100 ? ["m", 32] : n < 1000 ? ["l", 36] : ["xl", 40]; }
  function shortCount(n) { return n < 1000 ? String(n) : n < 10000 ? (Math.floor(n / 100) / 10) + "k" : Math.floor(n / 1000) + "k"; }
  function clusterIcon(p) {
    var size = clusterSize(p.count);
    var inner = text("span", "", shortCount(p.count));
    inner.setAttribute("role", "img");
    inner.setAttribute("aria-label", p.severity ? hwT("js.map.cluster_worst", { Count: p.count, Severity: severityWords(p.severity) }) : hwT("js.map.cluster", { Count: p.count }));
    return L.divIcon({ className: "cluster cluster-" + size[0] + " sev-" + (p.severity || "none"), html: inner, iconSize: [size[1], size[1]] });
  }
  function keyOf(f, zoom) {
    var p = f.properties, c = f.geometry.coordinates;
    if (p.cluster) return "c:" + zoom + ":" + c[0] + "," + c[1] + ":" + p.count + ":" + (p.severity || "");
    return "r:" + (f.id || p.id);
  }
  function latLngOf(f) { return L.latLng(f.geometry.coordinates[1], f.geometry.coordinates[0]); }

  function reportMarker(key, p, ll) {
    var m = L.marker(ll, { icon: reportIcon(p), keyboard: false, title: describe(p), riseOnHover: true });
    var entry = { marker: m, key: key, props: p, ll: ll };
    m.bindPopup(function () { return popupBody(entry); }, { maxWidth: 240, minWidth: 180 });
    m.on("popupopen", function () { openKey = key; loadDetails(entry, false); });
    m.on("popupclose", function () {
      if (openKey === key) openKey = null;
      // A marker kept only for its popup goes once the popup closes.
      if (shown.get(key) === entry && !answerKeys.has(key)) drop(key);
    });
    return entry;
  }
  function clusterMarker(key, p, ll) {
    var deepest = map.getZoom() >= MAX_ZOOM; // clusters are drawn for one zoom: keyOf holds it
    var m = L.marker(ll, { icon: clusterIcon(p), keyboard: false, title: hwT(deepest ? "js.map.cluster_spread" : "js.map.cluster_zoom", { Count: p.count }) });
    m.on("click", function () {
      if (deepest) spreadCluster(key, ll);
      else map.setView(ll, Math.min(map.getZoom() + 2, MAX_ZOOM));
    });
    return { marker: m, key: key, props: p, ll: ll };
  }
  function drop(key) {
    var e = shown.get(key);
    if (!e) return;
    shown.delete(key);
    layer.removeLayer(e.marker);
  }

  // reconcile makes the drawn markers match an answer: removes what is gone, updates what
  // changed, and adds the new ones in slices of about 8 ms, one per frame, so that drawing never
  // blocks the page (no long tasks, which is what Lighthouse's Total Blocking Time counts).
  var drawing = 0;
  function reconcile(fc, zoom) {
    var next = new Map();
    fc.features.forEach(function (f) { next.set(keyOf(f, zoom), f); });
    answerKeys = new Set(next.keys());
    shown.forEach(function (e, key) {
      if (next.has(key)) return;
      if (key === openKey) keepIfStillThere(e);
      else drop(key);
    });
    if (spread && !next.has(spread.key)) collapseSpread();
    var adds = [];
    next.forEach(function (f, key) {
      var e = shown.get(key);
      if (!e) { adds.push([key, f]); return; }
      if (f.properties.cluster) return;
      var p = f.properties, ll = latLngOf(f);
      if (p.type !== e.props.type || p.severity !== e.props.severity || p.status !== e.props.status) {
        e.marker.options.title = describe(p);
        e.marker.setIcon(reportIcon(p));
        e.marker.getElement().title = describe(p); // setIcon keeps the element and its old title
        e.props = p;
        if (key === openKey) loadDetails(e, true);
      }
      if (!ll.equals(e.ll)) { e.marker.setLatLng(ll); e.ll = ll; }
    });
    var mine = ++drawing;
    (function slice(i) {
      if (mine !== drawing) { busy(-1); return; } // a newer answer took over
      for (var t0 = performance.now(); i < adds.length && performance.now() - t0 < 8; i++) {
        var key = adds[i][0], f = adds[i][1], ll = latLngOf(f);
        var e = f.properties.cluster ? clusterMarker(key, f.properties, ll) : reportMarker(key, f.properties, ll);
        shown.set(key, e);
        layer.addLayer(e.marker);
      }
      if (i < adds.length) { requestAnimationFrame(function () { slice(i); }); return; }
      drawHeat();
      el.dataset.markers = String(fc.features.length);
      el.dataset.loads = String(parseInt(el.dataset.loads || "0", 10) + 1);
      busy(-1);
    })(0);
  }

  // The report whose popup is open is no longer in the answer: it may have been merged into a
  // cluster at this zoom, or be gone (deleted, filtered out, status changed, out of view). The
  // server decides, with the same filters, for a box of a few metres round it.
  function keepIfStillThere(e) {
    if (!map.getBounds().contains(e.ll)) { e.marker.closePopup(); drop(e.key); return; }
    var q = filterQuery();
    q.set("bbox", boxParam(e.ll.toBounds(4)));
    fetch("/api/reports?" + q.toString(), { headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("status " + r.status); return r.json(); })
      .then(function (fc) {
        if (shown.get(e.key) !== e || answerKeys.has(e.key)) return;
        var there = (fc.features || []).some(function (f) { return (f.id || f.properties.id) === e.props.id; });
        if (!there) { e.marker.closePopup(); drop(e.key); }
      })
      .catch(function () { /* keep it: the next answer decides */ });
  }

  // --- Popups: load the report when opened ---------------------------------------------------

  // The popup shows what the marker knows at once and says it is loading the rest. Leaflet asks
  // for the content again on every update, so this only builds it.
  function popupBody(e) {
    if (!e.box) {
      e.box = document.createElement("div");
      e.box.className = "map-popup";
      e.box.dir = "auto";
      e.box.setAttribute("aria-live", "polite");
      loading(e);
    }
    return e.box;
  }
  function loading(e) {
    e.box.replaceChildren(text("strong", "", typeWords(e.props.type).label), text("p", "map-popup-status", hwT("js.map.loading")));
    e.box.dataset.state = "loading";
  }
  function loadDetails(e, again) {
    var box = popupBody(e);
    if (e.loaded && !again) return;
    if (!e.loaded && box.dataset.state !== "loading") loading(e);
    var token = e.request = {};
    fetch("/api/reports/" + encodeURIComponent(e.props.id), { headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 404) throw new Error("gone");
        if (!r.ok) throw new Error("status " + r.status);
        return r.json();
      })
      .then(function (f) {
        if (e.request !== token) return;
        e.loaded = true;
        fillPopup(box, f.properties);
        if (e.marker.isPopupOpen()) e.marker.getPopup().update();
      })
      .catch(function (err) {
        if (e.request !== token) return;
        e.loaded = false;
        var retry = text("button", "btn btn-secondary map-popup-retry", hwT("js.map.retry"));
        retry.type = "button";
        retry.addEventListener("click", function (ev) {
          // The button leaves the page at once; unstopped, Leaflet would take the click for
          // one on the map (its target no longer inside the popup) and drop a pin.
          ev.stopPropagation();
          loadDetails(e, true);
        });
        box.replaceChildren(
          text("strong", "", typeWords(e.props.type).label),
          text("p", "map-popup-status", hwT(err.message === "gone" ? "js.map.gone" : "js.map.failed")),
          retry);
        box.dataset.state = "error";
        if (e.marker.isPopupOpen()) e.marker.getPopup().update();
      });
  }
  function fillPopup(box, p) {
    var parts = [];
    if (p.photos && p.photos.length) {
      var img = document.createElement("img");
      img.src = p.photos[0].replace(/\.jpg$/, "_t.jpg");
      img.alt = "";
      img.width = 160;
      parts.push(img);
    }
    parts.push(text("strong", "", typeWords(p.type).label));
    parts.push(text("p", "", severityWords(p.severity) + " · " + statusWords(p.status) + " · " + ago(p.created_at)));
    if (p.description) { var desc = text("p", "map-popup-desc", p.description); desc.dir = "auto"; parts.push(desc); }
    if (p.address) {
      var addr = text("p", "map-popup-meta", p.address);
      addr.dir = "auto";
      if (p.address_lang) addr.lang = p.address_lang;
      parts.push(addr);
    }
    if (p.sent_label) parts.push(text("p", "map-popup-meta map-popup-sent", "✓ " + p.sent_label)); // worded by the server
    if (p.confirmations) parts.push(text("p", "map-popup-meta", hwT("js.map.still_there", { Count: p.confirmations })));
    var a = text("a", "", hwT("js.map.open"));
    a.href = "/reports/" + encodeURIComponent(p.id);
    parts.push(a);
    box.replaceChildren.apply(box, parts);
    box.dataset.state = "loaded";
  }

  // --- Spreading a cluster at the deepest zoom ------------------------------------------------

  // At the deepest zoom a cluster holds reports at (nearly) the same spot: fetch them without
  // grouping and fan them out on a circle (a spiral when many) with a line to the true spot, so
  // each can be tapped.
  function spreadCluster(key, ll) {
    collapseSpread();
    var z = map.getZoom(), c = map.project(ll, z), r = 40;
    var box = L.latLngBounds(map.unproject(c.add([-r, r]), z), map.unproject(c.add([r, -r]), z));
    var q = filterQuery();
    q.set("bbox", boxParam(box));
    fetch("/api/reports?" + q.toString(), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (fc) {
        var members = (fc.features || []).filter(function (f) { return !f.properties.cluster && !shown.has(keyOf(f, z)); });
        if (!members.length || map.getZoom() !== z) return;
        var group = L.layerGroup(), n = members.length;
        members.forEach(function (f, i) {
          var at;
          if (n <= 8) { // one circle, 40 px between neighbours
            var radius = Math.max(36, 40 * n / (2 * Math.PI)), a = 2 * Math.PI * i / n - Math.PI / 2;
            at = c.add([radius * Math.cos(a), radius * Math.sin(a)]);
          } else { // an Archimedean spiral keeps 40 px between turns and neighbours
            var t = Math.sqrt(i + 1) * 2.6, rr = 40 * t / (2 * Math.PI) + 24;
            at = c.add([rr * Math.cos(t * 2.2), rr * Math.sin(t * 2.2)]);
          }
          var spot = map.unproject(at, z);
          L.polyline([ll, spot], { color: "#334155", weight: 1.5, opacity: 0.7, interactive: false }).addTo(group);
          var e = reportMarker("s:" + (f.id || f.properties.id), f.properties, spot);
          group.addLayer(e.marker);
        });
        var cl = shown.get(key);
        if (cl) cl.marker.setOpacity(0.35);
        spread = { key: key, group: group.addTo(map) };
        el.dataset.spread = String(n);
      })
      .catch(function () { /* the cluster stays; tapping again retries */ });
  }
  function collapseSpread() {
    if (!spread) return;
    map.removeLayer(spread.group);
    var cl = shown.get(spread.key);
    if (cl) cl.marker.setOpacity(1);
    spread = null;
    delete el.dataset.spread;
  }
  map.on("zoomstart", collapseSpread);

  // --- Loading the view -----------------------------------------------------------------------

  // data-busy is set while an answer is awaited or drawn, so tests can wait for the map to settle.
  var pendingWork = 0;
  function busy(n) {
    pendingWork = Math.max(0, pendingWork + n);
    if (pendingWork) el.dataset.busy = "true"; else delete el.dataset.busy;
  }
  var timer = null, seq = 0;
  function refresh() {
    if (timer === null) busy(1);
    clearTimeout(timer);
    timer = setTimeout(function () { timer = null; load(); busy(-1); }, 200);
  }
  function load() {
    var q = filterQuery();
    var zoom = map.getZoom();
    q.set("bbox", boxParam(aligned(map.getBounds(), zoom)));
    var api = new URLSearchParams(q);
    api.set("zoom", String(zoom));
    var mine = ++seq;
    busy(1);
    fetch("/api/reports?" + api.toString(), { headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("status " + r.status); return r.json(); })
      .then(function (fc) {
        if (mine === seq && fc.features && zoom === map.getZoom()) reconcile(fc, zoom);
        else busy(-1);
      })
      .catch(function () { busy(-1); /* keep what is shown; the next move tries again */ });
    if (window.htmx) {
      htmx.ajax("GET", "/reports/in-view?" + q.toString(), { target: "#in-view", swap: "innerHTML" });
    }
    var c = map.getCenter();
    var url = new URLSearchParams(q);
    url.delete("bbox");
    url.set("lat", c.lat.toFixed(5));
    url.set("lng", c.lng.toFixed(5));
    url.set("z", String(zoom));
    history.replaceState(null, "", "/?" + url.toString());
    if (form) {
      form.querySelector('input[name="lat"]').value = c.lat.toFixed(5);
      form.querySelector('input[name="lng"]').value = c.lng.toFixed(5);
      form.querySelector('input[name="z"]').value = String(zoom);
    }
    // Place search ranks places near what the map shows.
    var near = c.lat.toFixed(4) + "," + c.lng.toFixed(4);
    var placeBox = document.getElementById("place-q");
    if (placeBox) placeBox.dataset.near = near;
    var nearField = document.querySelector('.place-search input[name="near"]');
    if (nearField) nearField.value = near;
  }
  map.on("moveend", refresh);
  if (form) {
    form.addEventListener("change", refresh);
    form.addEventListener("submit", function (e) { e.preventDefault(); refresh(); });
  }

  // --- Controls on the map: the legend and the heat-map switch ------------------------------

  function control(node, position, cls) {
    if (!node) return;
    var Ctl = L.Control.extend({
      onAdd: function () {
        var box = L.DomUtil.create("div", "leaflet-bar map-control " + cls);
        box.appendChild(node);
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        return box;
      }
    });
    new Ctl({ position: position }).addTo(map);
  }
  control(document.getElementById("heat-toggle-label"), "top" + end, "map-control-heat");
  control(document.getElementById("map-legend"), "bottom" + start, "map-control-legend");

  function drawHeat() {
    if (!heat) return;
    var pts = [];
    shown.forEach(function (e) { pts.push([e.ll.lat, e.ll.lng, e.props.cluster ? Math.min(1, e.props.count / 50) : 0.6]); });
    heat.setLatLngs(pts);
  }
  if (heatToggle) {
    heatToggle.addEventListener("change", function () {
      if (heatToggle.checked && L.heatLayer) {
        heat = L.heatLayer([], { radius: 25 }).addTo(map);
        drawHeat();
      } else if (heat) {
        map.removeLayer(heat);
        heat = null;
      }
    });
  }

  // --- A pin on a chosen spot names the place and offers to report a hazard there -------------

  function pinContent(latlng, title, detail) {
    var box = document.createElement("div");
    box.className = "map-popup";
    box.dir = "auto";
    var t = box.appendChild(text("strong", "", title));
    t.dir = "auto";
    if (detail) { var det = box.appendChild(text("p", "", detail)); det.dir = "ltr"; }
    var a = text("a", "", hwT("js.map.report_here"));
    a.href = "/reports/new?lat=" + latlng.lat.toFixed(5) + "&lng=" + latlng.lng.toFixed(5);
    box.appendChild(a);
    return box;
  }
  function dropPin(latlng, title, detail) {
    if (pin) map.removeLayer(pin);
    pin = L.marker(latlng, { keyboard: false, title: title }).addTo(map);
    pin.bindPopup(pinContent(latlng, title, detail)).openPopup();
    return pin;
  }
  // A chosen place (the address box) recentres the map and pins it.
  document.addEventListener("hw:place", function (e) {
    var ll = L.latLng(e.detail.lat, e.detail.lng);
    map.setView(ll, 14);
    dropPin(ll, e.detail.label);
  });
  // Nothing found in the address box: the map is the way to find the spot.
  document.addEventListener("hw:use-map", function () {
    el.scrollIntoView({ block: "nearest" });
    el.focus();
  });
  // A click on the map drops a pin and names the spot through /api/reverse.
  map.on("click", function (e) {
    collapseSpread();
    var coords = e.latlng.lat.toFixed(5) + ", " + e.latlng.lng.toFixed(5);
    var marker = dropPin(e.latlng, hwT("js.map.looking_up"), coords);
    fetch("/api/reverse?lat=" + e.latlng.lat.toFixed(5) + "&lng=" + e.latlng.lng.toFixed(5), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (marker !== pin) return; // another click came first
        var title = res.ok ? res.body.label : hwT("js.map.unnamed");
        marker.setPopupContent(pinContent(e.latlng, title, (res.ok && res.body.approximate ? hwT("js.map.approximate") + " · " : "") + coords));
        el.dataset.pinLabel = title;
      })
      .catch(function () { if (marker === pin) marker.setPopupContent(pinContent(e.latlng, hwT("js.map.lookup_failed"), coords)); });
  });

  // --- Live updates ---------------------------------------------------------------------------

  // An event names the report and, from newer servers, where it is: one outside the view is
  // ignored; without a position (older servers) the view is refreshed to be safe.
  if (window.EventSource) {
    var es = new EventSource("/events");
    ["report.created", "report.updated"].forEach(function (kind) {
      es.addEventListener(kind, function (ev) {
        var data = {};
        try { data = JSON.parse(ev.data) || {}; } catch (err) { /* refresh below */ }
        el.dataset.events = String(parseInt(el.dataset.events || "0", 10) + 1);
        if (data.id && openKey === "r:" + data.id) { var e = shown.get(openKey); if (e) loadDetails(e, true); }
        if (typeof data.lat === "number" && typeof data.lng === "number" && !map.getBounds().contains([data.lat, data.lng])) {
          el.dataset.ignoredEvents = String(parseInt(el.dataset.ignoredEvents || "0", 10) + 1);
          return;
        }
        refresh();
      });
    });
    es.onopen = function () { el.dataset.live = "true"; };
  }

  // Start at the user's location when they have already allowed it and the link names no place.
  if (!d.fromUrl && navigator.permissions && navigator.geolocation) {
    navigator.permissions.query({ name: "geolocation" }).then(function (st) {
      if (st.state === "granted") {
        navigator.geolocation.getCurrentPosition(function (pos) {
          map.setView([pos.coords.latitude, pos.coords.longitude], 15);
        });
      }
    }).catch(function () {});
  }
  load();
  el.dataset.ready = "true";
})();
