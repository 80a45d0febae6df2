// The map on a report's page: it only shows the pin. (The report form's map is reportform.js.)
(function () {
  "use strict";
  var el = document.getElementById("report-map");
  if (!el || !window.L || el.dataset.readonly !== "true") return;
  var d = el.dataset;
  var start = [parseFloat(d.lat), parseFloat(d.lng)];
  var rtl = document.documentElement.dir === "rtl";
  var map = L.map(el, { zoomControl: false }).setView(start, parseInt(d.zoom, 10));
  // Controls sit on the side a reader starts from: the left in English, the right in Hebrew.
  L.control.zoom({ position: rtl ? "topright" : "topleft" }).addTo(map);
  map.attributionControl.setPosition(rtl ? "bottomleft" : "bottomright");
  L.tileLayer(d.tileUrl, { maxZoom: 19, attribution: d.attribution }).addTo(map);
  L.marker(start, { keyboard: false }).addTo(map);
  el.dataset.ready = "true";
})();
