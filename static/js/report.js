// Maps on the report form and the report page. On the form: tap to place the pin, drag to
// adjust, "Use my location", or pick a place in the address box; the pin fills the lat/lng
// fields (which also work by hand without JavaScript) and asks the server for similar reports
// nearby (htmx listens for "hw:pin"). On the report page the map only shows the pin.
(function () {
  "use strict";
  var el = document.getElementById("report-map");
  if (!el || !window.L) return;
  var d = el.dataset;
  var start = [parseFloat(d.lat), parseFloat(d.lng)];
  var rtl = document.documentElement.dir === "rtl";
  var map = L.map(el, { zoomControl: false }).setView(start, parseInt(d.zoom, 10));
  // Controls sit on the side a reader starts from: the left in English, the right in Hebrew.
  L.control.zoom({ position: rtl ? "topright" : "topleft" }).addTo(map);
  map.attributionControl.setPosition(rtl ? "bottomleft" : "bottomright");
  L.tileLayer(d.tileUrl, { maxZoom: 19, attribution: d.attribution }).addTo(map);
  if (d.readonly === "true") {
    L.marker(start, { keyboard: false }).addTo(map);
    el.dataset.ready = "true";
    return;
  }

  var latIn = document.querySelector('input[name="lat"]');
  var lngIn = document.querySelector('input[name="lng"]');
  var status = document.getElementById("location-status");
  var pin = null;

  function say(text) { if (status) status.textContent = text; }
  function setPin(lat, lng, zoom) {
    var ll = L.latLng(lat, lng);
    if (!pin) {
      pin = L.marker(ll, { draggable: true, keyboard: true, title: hwT("js.report.pin_title") }).addTo(map);
      pin.on("dragend", function () { var p = pin.getLatLng(); fill(p.lat, p.lng); });
    } else {
      pin.setLatLng(ll);
    }
    if (zoom) map.setView(ll, zoom); else map.panTo(ll);
    fill(lat, lng);
  }
  function fill(lat, lng) {
    latIn.value = lat.toFixed(6);
    lngIn.value = lng.toFixed(6);
    el.dataset.pinned = "true";
    document.body.dispatchEvent(new CustomEvent("hw:pin", { bubbles: true }));
  }

  if (latIn.value && lngIn.value && !isNaN(parseFloat(latIn.value)) && !isNaN(parseFloat(lngIn.value))) {
    setPin(parseFloat(latIn.value), parseFloat(lngIn.value), 17);
  }
  map.on("click", function (e) { setPin(e.latlng.lat, e.latlng.lng); say(""); });
  [latIn, lngIn].forEach(function (input) {
    input.addEventListener("change", function () {
      var lat = parseFloat(latIn.value), lng = parseFloat(lngIn.value);
      if (!isNaN(lat) && !isNaN(lng) && Math.abs(lat) <= 90 && Math.abs(lng) <= 180) setPin(lat, lng, 17);
    });
  });
  document.addEventListener("hw:place", function (e) { setPin(e.detail.lat, e.detail.lng, 17); say(hwT("js.report.pin_placed", { Place: e.detail.label })); });
  // The address box ranks places near what this map shows, and offers the map when it finds nothing.
  var placeBox = document.getElementById("place-q");
  function near() {
    var c = map.getCenter();
    if (placeBox) placeBox.dataset.near = c.lat.toFixed(4) + "," + c.lng.toFixed(4);
  }
  map.on("moveend", near);
  near();
  document.addEventListener("hw:use-map", function () {
    el.scrollIntoView({ block: "center" });
    el.focus();
    say(hwT("js.report.tap_map"));
  });

  var locate = document.getElementById("use-location");
  if (locate) {
    if (!navigator.geolocation) { locate.hidden = true; }
    locate.addEventListener("click", function () {
      say(hwT("js.report.finding"));
      navigator.geolocation.getCurrentPosition(function (pos) {
        setPin(pos.coords.latitude, pos.coords.longitude, 17);
        say(hwT("js.report.located", { Metres: Math.round(pos.coords.accuracy) }));
      }, function (err) {
        say(hwT(err.code === 1 ? "js.report.denied" : "js.report.not_found"));
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }
  el.dataset.ready = "true";
})();
