// The alert form's "Use my location": fills in the point from the browser's location.
(function () {
  "use strict";
  var b = document.getElementById("alert-locate");
  if (!b || !navigator.geolocation) return;
  b.hidden = false;
  b.addEventListener("click", function () {
    navigator.geolocation.getCurrentPosition(function (pos) {
      document.getElementById("f-lat").value = pos.coords.latitude.toFixed(5);
      document.getElementById("f-lng").value = pos.coords.longitude.toFixed(5);
      var r = document.querySelector('input[name="area"][value="radius"]');
      if (r) r.checked = true;
    });
  });
})();
