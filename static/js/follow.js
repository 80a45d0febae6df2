// "Follow this area" beside the map: the map keeps its view in the address (lat, lng, z), so the
// link takes it from there when clicked, and alerts start from the view the person sees.
(function () {
  "use strict";
  var a = document.getElementById("follow-area");
  if (!a) return;
  a.addEventListener("click", function () {
    var q = new URLSearchParams(location.search);
    if (!q.get("lat") || !q.get("lng")) return;
    var next = new URLSearchParams();
    next.set("lat", q.get("lat"));
    next.set("lng", q.get("lng"));
    next.set("z", q.get("z") || "14");
    var types = q.getAll("type");
    if (types.length) next.set("type", types.join(","));
    a.href = "/alerts?" + next.toString();
  });
})();
