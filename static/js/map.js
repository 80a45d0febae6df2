// The hazard map. Settings come from data- attributes on #map, so no inline script is needed.
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  var d = el.dataset;
  var map = L.map(el).setView([parseFloat(d.lat), parseFloat(d.lng)], parseInt(d.zoom, 10));
  L.tileLayer(d.tileUrl, { maxZoom: 19, attribution: d.attribution }).addTo(map);
  el.dataset.ready = "true";
})();
