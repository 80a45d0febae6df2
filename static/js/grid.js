// The server's map grid, shared by the hazard map and the review queue's map. The server keeps
// its counts on a grid (the GEO sets' geohash, every other level from 3 to 17); a box widened to
// whole cells of the level it reads at a zoom is answered from the counts alone, without reading
// the reports on its edges one by one.
(function () {
  "use strict";
  var HW = window.HW = window.HW || {};
  HW.alignBox = function (b, zoom) {
    var p = Math.min(Math.max(zoom + 2, 3), 17);
    if ((p - 3) % 2) p++;
    var south = -85.05112878, n = Math.pow(2, p), w = (180 - -180) / n, h = (-south - south) / n; // as the server computes them
    var snap = function (v, origin, size, up) { var c = (v - origin) / size; return origin + size * (up ? Math.ceil(c) : Math.floor(c)); };
    return L.latLngBounds(
      [Math.max(south, snap(b.getSouth(), south, h, false)), Math.max(-180, snap(b.getWest(), -180, w, false))],
      [Math.min(-south, snap(b.getNorth(), south, h, true)), Math.min(180, snap(b.getEast(), -180, w, true))]);
  };
  // boxParam is a bbox= value: every digit, so an aligned box arrives exactly on its cells' edges.
  HW.boxParam = function (b) {
    var clamp = function (v, lo, hi) { return Math.max(lo, Math.min(hi, v)); };
    return [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)]
      .map(String).join(",");
  };
})();
