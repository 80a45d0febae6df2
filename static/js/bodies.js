// The map of a body's area on /admin/bodies/{id}: draws the stored GeoJSON and fits the view to it.
(function () {
  "use strict";
  var el = document.getElementById("body-map");
  if (!el || !window.L) return;
  var d = el.dataset;
  var map = L.map(el).setView([0, 0], 2);
  L.tileLayer(d.tileUrl, { maxZoom: 19, attribution: d.attribution }).addTo(map);
  if (!d.areaUrl) return;
  fetch(d.areaUrl, { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
    .then(function (res) { if (!res.ok) throw new Error(String(res.status)); return res.json(); })
    .then(function (geo) {
      var layer = L.geoJSON(geo, { style: { color: "#1d4ed8", weight: 2, fillOpacity: 0.15 } }).addTo(map);
      map.fitBounds(layer.getBounds(), { padding: [12, 12] });
      el.dataset.ready = "true";
    })
    .catch(function () { el.dataset.ready = "failed"; });
})();
