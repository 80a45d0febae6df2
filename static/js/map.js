// The hazard map. Settings come from data- attributes on #map, so no inline script is needed.
// A chosen place (hw:place, from the address box) recentres the map; a click drops a pin and
// names the spot through /api/reverse.
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  var d = el.dataset;
  var map = L.map(el).setView([parseFloat(d.lat), parseFloat(d.lng)], parseInt(d.zoom, 10));
  L.tileLayer(d.tileUrl, { maxZoom: 19, attribution: d.attribution }).addTo(map);
  var pin = null;

  function popupText(title, detail) {
    var box = document.createElement("div");
    var strong = document.createElement("strong");
    strong.textContent = title;
    box.appendChild(strong);
    if (detail) {
      var p = document.createElement("div");
      p.textContent = detail;
      box.appendChild(p);
    }
    return box;
  }
  function dropPin(latlng, title, detail) {
    if (pin) map.removeLayer(pin);
    pin = L.marker(latlng, { keyboard: true, title: title }).addTo(map);
    pin.bindPopup(popupText(title, detail)).openPopup();
    return pin;
  }

  document.addEventListener("hw:place", function (e) {
    map.setView([e.detail.lat, e.detail.lng], 14);
    dropPin([e.detail.lat, e.detail.lng], e.detail.label);
  });

  map.on("click", function (e) {
    var lat = e.latlng.lat.toFixed(5), lng = e.latlng.lng.toFixed(5);
    var marker = dropPin(e.latlng, "Looking up this place…", lat + ", " + lng);
    fetch("/api/reverse?lat=" + lat + "&lng=" + lng, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (marker !== pin) return; // another click came first
        var title = res.ok ? res.body.label : "Unnamed place";
        var detail = res.ok ? (res.body.approximate ? "approximate · " : "") + lat + ", " + lng : res.body.error;
        marker.setPopupContent(popupText(title, detail));
        el.dataset.pinLabel = title;
      })
      .catch(function () {
        if (marker === pin) marker.setPopupContent(popupText("Could not look up this place", lat + ", " + lng));
      });
  });
  el.dataset.ready = "true";
})();
