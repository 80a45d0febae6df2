// The hazard map. Settings come from data- attributes on #map and the filter form, so no inline
// script is needed. On every move (and filter change) it asks /api/reports for the view, draws
// markers or clusters, keeps the URL shareable (?lat=&lng=&z=&type=&status=&since=) and refreshes
// the keyboard-reachable list beside the map. Server-sent events from /events redraw the view
// when anyone reports or changes a hazard.
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  var d = el.dataset;
  var map = L.map(el).setView([parseFloat(d.lat), parseFloat(d.lng)], parseInt(d.zoom, 10));
  L.tileLayer(d.tileUrl, { maxZoom: 19, attribution: d.attribution }).addTo(map);
  var layer = L.layerGroup().addTo(map);
  var heat = null;
  var pin = null;
  var form = document.getElementById("map-filters");
  var heatToggle = document.getElementById("heat-toggle");
  var lastPoints = [];

  function text(tag, cls, value) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    n.textContent = value;
    return n;
  }
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
  function bboxParam() {
    var b = map.getBounds();
    var clamp = function (v, lo, hi) { return Math.max(lo, Math.min(hi, v)); };
    return [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)]
      .map(function (v) { return v.toFixed(5); }).join(",");
  }
  function ago(iso) {
    var s = (Date.now() - new Date(iso).getTime()) / 1000;
    if (s < 60) return "just now";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " days ago";
  }
  function popup(p) {
    var box = document.createElement("div");
    box.className = "map-popup";
    if (p.photos && p.photos.length) {
      var img = document.createElement("img");
      img.src = p.photos[0].replace(/\.jpg$/, "_t.jpg");
      img.alt = "";
      img.width = 160;
      box.appendChild(img);
    }
    var label = (window.hazardTypes && window.hazardTypes[p.type]) || p.type;
    box.appendChild(text("strong", "", label));
    box.appendChild(text("div", "", p.severity + " severity · " + p.status.replace("_", " ") + " · " + ago(p.created_at)));
    if (p.description) box.appendChild(text("div", "map-popup-desc", p.description));
    var a = text("a", "", "Open the report");
    a.href = "/reports/" + p.id;
    box.appendChild(a);
    return box;
  }
  function icons() {
    var out = {};
    document.querySelectorAll("#map-filters input[name=type]").forEach(function (i) {
      out[i.value] = i.parentElement.textContent.trim();
    });
    return out;
  }
  var typeLabels = icons();
  var typeIcons = JSON.parse(d.icons || "{}");
  function draw(fc) {
    layer.clearLayers();
    lastPoints = [];
    fc.features.forEach(function (f) {
      var ll = [f.geometry.coordinates[1], f.geometry.coordinates[0]];
      var p = f.properties;
      if (p.cluster) {
        var size = p.count < 100 ? 34 : p.count < 1000 ? 42 : 52;
        var c = L.marker(ll, {
          icon: L.divIcon({ className: "cluster", html: "", iconSize: [size, size] }),
          keyboard: true, title: p.count + " hazards: zoom in"
        });
        c.on("add", function () { c.getElement().textContent = p.count; });
        c.on("click", function () { map.setView(ll, Math.min(map.getZoom() + 3, 18)); });
        layer.addLayer(c);
        lastPoints.push([ll[0], ll[1], Math.min(1, p.count / 50)]);
        return;
      }
      var m = L.marker(ll, {
        icon: L.divIcon({ className: "hazard-marker status-" + p.status, html: "", iconSize: [30, 30] }),
        keyboard: true, title: (typeLabels[p.type] || p.type) + " (" + p.status.replace("_", " ") + ")"
      });
      m.on("add", function () { m.getElement().textContent = typeIcons[p.type] || "!"; m.getElement().dataset.id = p.id; });
      m.bindPopup(function () { return popup(Object.assign({}, p, { type: typeLabels[p.type] || p.type })); });
      layer.addLayer(m);
      lastPoints.push([ll[0], ll[1], 0.6]);
    });
    if (heat) heat.setLatLngs(lastPoints);
    el.dataset.markers = String(fc.features.length);
  }
  var pending = null, seq = 0;
  function refresh() {
    clearTimeout(pending);
    pending = setTimeout(load, 200);
  }
  function load() {
    var q = filterQuery();
    q.set("bbox", bboxParam());
    var mine = ++seq;
    fetch("/api/reports?" + q.toString(), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (fc) { if (mine === seq && fc.features) draw(fc); })
      .catch(function () { /* keep what is shown; the next move tries again */ });
    if (window.htmx) {
      htmx.ajax("GET", "/reports/in-view?" + q.toString(), { target: "#in-view", swap: "innerHTML" });
    }
    var c = map.getCenter();
    var url = new URLSearchParams(q);
    url.delete("bbox");
    url.set("lat", c.lat.toFixed(5));
    url.set("lng", c.lng.toFixed(5));
    url.set("z", String(map.getZoom()));
    history.replaceState(null, "", "/?" + url.toString());
    if (form) {
      form.querySelector('input[name="lat"]').value = c.lat.toFixed(5);
      form.querySelector('input[name="lng"]').value = c.lng.toFixed(5);
      form.querySelector('input[name="z"]').value = String(map.getZoom());
    }
  }
  map.on("moveend", refresh);
  if (form) {
    form.addEventListener("change", function (e) { if (e.target !== heatToggle) refresh(); });
    form.addEventListener("submit", function (e) { e.preventDefault(); refresh(); });
  }
  if (heatToggle) {
    heatToggle.addEventListener("change", function () {
      if (heatToggle.checked && L.heatLayer) {
        heat = L.heatLayer(lastPoints, { radius: 25 }).addTo(map);
      } else if (heat) {
        map.removeLayer(heat);
        heat = null;
      }
    });
  }

  // A pin on a chosen spot names the place and offers to report a hazard there.
  function pinContent(latlng, title, detail) {
    var box = document.createElement("div");
    box.appendChild(text("strong", "", title));
    if (detail) box.appendChild(text("div", "", detail));
    var a = text("a", "", "Report a hazard here");
    a.href = "/reports/new?lat=" + latlng.lat.toFixed(5) + "&lng=" + latlng.lng.toFixed(5);
    box.appendChild(a);
    return box;
  }
  function dropPin(latlng, title, detail) {
    if (pin) map.removeLayer(pin);
    pin = L.marker(latlng, { keyboard: true, title: title }).addTo(map);
    pin.bindPopup(pinContent(latlng, title, detail)).openPopup();
    return pin;
  }
  // A chosen place (the address box) recentres the map and pins it.
  document.addEventListener("hw:place", function (e) {
    var ll = L.latLng(e.detail.lat, e.detail.lng);
    map.setView(ll, 14);
    dropPin(ll, e.detail.label);
  });
  // A click on the map drops a pin and names the spot through /api/reverse.
  map.on("click", function (e) {
    var coords = e.latlng.lat.toFixed(5) + ", " + e.latlng.lng.toFixed(5);
    var marker = dropPin(e.latlng, "Looking up this place…", coords);
    fetch("/api/reverse?lat=" + e.latlng.lat.toFixed(5) + "&lng=" + e.latlng.lng.toFixed(5), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (marker !== pin) return; // another click came first
        var title = res.ok ? res.body.label : "Unnamed place";
        marker.setPopupContent(pinContent(e.latlng, title, (res.ok && res.body.approximate ? "approximate · " : "") + coords));
        el.dataset.pinLabel = title;
      })
      .catch(function () { if (marker === pin) marker.setPopupContent(pinContent(e.latlng, "Could not look up this place", coords)); });
  });

  // Live updates: any report change may concern this view; redraw it (debounced).
  if (window.EventSource) {
    var es = new EventSource("/events");
    ["report.created", "report.updated"].forEach(function (kind) {
      es.addEventListener(kind, function () { el.dataset.events = String((parseInt(el.dataset.events || "0", 10)) + 1); refresh(); });
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
