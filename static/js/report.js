// The map on a report's page: it only shows the pin. (The report form's map is reportform.js.)
(function () {
  "use strict";
  var el = document.getElementById("report-map");
  if (!el || !window.L || el.dataset.readonly !== "true") return;
  var d = el.dataset;
  var start = [parseFloat(d.lat), parseFloat(d.lng)];
  var map = L.map(el).setView(start, parseInt(d.zoom, 10));
  L.tileLayer(d.tileUrl, { maxZoom: 19, attribution: d.attribution }).addTo(map);
  L.marker(start, { keyboard: false }).addTo(map);
  el.dataset.ready = "true";
})();
