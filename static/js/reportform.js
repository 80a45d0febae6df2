// The report form. The map: tap to place the pin, drag to adjust, "Use my location", or pick a
// place in the address box; the pin fills the coordinate boxes (folded below the map, and enough
// without JavaScript) and asks the server for similar reports nearby (htmx listens for "hw:pin").
// Sending: one request at a time, with a progress bar per photo and overall; a form sent back
// with errors replaces the page's form (the map stays) and its error summary takes focus. With no
// connection, or when the connection drops while sending, the report is kept on the device
// (offline.js) and sent later with the same idempotency key. What is typed is kept on the device
// as it is typed, so closing the tab loses nothing. Every sentence comes from the page (the
// form's data-msg-* attributes), in the page's language.
(function () {
  "use strict";
  var mapEl = document.getElementById("report-map");
  if (!mapEl || !window.L || !document.getElementById("report-form")) return;
  var Outbox = window.HWOutbox;

  function form() { return document.getElementById("report-form"); }
  function msg(name, vars) {
    var s = form().dataset["msg" + name.charAt(0).toUpperCase() + name.slice(1)] || "";
    Object.keys(vars || {}).forEach(function (k) { s = s.replace("{" + k + "}", vars[k]); });
    return s;
  }
  function field(name) { return form().querySelector('[name="' + name + '"]'); }
  function status(text) { var el = document.getElementById("location-status"); if (el) el.textContent = text; }
  function submitStatus(text) { var el = document.getElementById("submit-status"); if (el) el.textContent = text; }

  // --- The map and its pin ----------------------------------------------------------------------

  var d = mapEl.dataset;
  var rtl = document.documentElement.dir === "rtl";
  var map = L.map(mapEl, { zoomControl: false }).setView([parseFloat(d.lat), parseFloat(d.lng)], parseInt(d.zoom, 10));
  // Controls sit on the side a reader starts from: the left in English, the right in Hebrew.
  L.control.zoom({ position: rtl ? "topright" : "topleft" }).addTo(map);
  map.attributionControl.setPosition(rtl ? "bottomleft" : "bottomright");
  L.tileLayer(d.tileUrl, { maxZoom: 19, attribution: d.attribution }).addTo(map);
  var pin = null;

  function setPin(lat, lng, zoom) {
    var ll = L.latLng(lat, lng);
    if (!pin) {
      pin = L.marker(ll, { draggable: true, keyboard: true, title: msg("pin") }).addTo(map);
      pin.on("dragend", function () { var p = pin.getLatLng(); fill(p.lat, p.lng); });
    } else {
      pin.setLatLng(ll);
    }
    if (zoom) map.setView(ll, zoom); else map.panTo(ll);
    fill(lat, lng);
  }
  function fill(lat, lng) {
    field("lat").value = lat.toFixed(6);
    field("lng").value = lng.toFixed(6);
    mapEl.dataset.pinned = "true";
    document.body.dispatchEvent(new CustomEvent("hw:pin", { bubbles: true }));
    keepDraft();
  }
  function pinFromFields(zoom) {
    var lat = parseFloat(field("lat").value), lng = parseFloat(field("lng").value);
    if (!isNaN(lat) && !isNaN(lng) && Math.abs(lat) <= 90 && Math.abs(lng) <= 180) setPin(lat, lng, zoom);
  }
  map.on("click", function (e) { setPin(e.latlng.lat, e.latlng.lng); status(""); });
  document.addEventListener("change", function (e) {
    if (e.target.name === "lat" || e.target.name === "lng") pinFromFields(17);
  });
  document.addEventListener("hw:place", function (e) {
    setPin(e.detail.lat, e.detail.lng, 17);
    status(msg("placed", { label: e.detail.label }));
  });
  // The address box ranks places near what this map shows, and offers the map when it finds nothing.
  function near() {
    var c = map.getCenter(), box = document.getElementById("place-q");
    if (box) box.dataset.near = c.lat.toFixed(4) + "," + c.lng.toFixed(4);
  }
  map.on("moveend", near);
  document.addEventListener("hw:use-map", function () {
    mapEl.scrollIntoView({ block: "center" });
    mapEl.focus();
    status(msg("useMap"));
  });
  document.addEventListener("click", function (e) {
    if (!e.target.closest || !e.target.closest("#use-location")) return;
    status(msg("locating"));
    navigator.geolocation.getCurrentPosition(function (pos) {
      setPin(pos.coords.latitude, pos.coords.longitude, 17);
      status(msg("located", { m: Math.round(pos.coords.accuracy) }));
    }, function (err) {
      status(err.code === 1 ? msg("denied") : msg("unavailable"));
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });
  if (!navigator.geolocation) document.getElementById("use-location").hidden = true;

  // --- Photos: previews with a progress bar each ------------------------------------------------

  function previews() {
    var ul = document.getElementById("photo-previews"), input = field("photos");
    if (!ul || !input) return;
    ul.replaceChildren();
    Array.prototype.forEach.call(input.files || [], function (f, i) {
      var li = document.createElement("li");
      var img = document.createElement("img");
      img.src = URL.createObjectURL(f);
      img.alt = "";
      img.width = 96;
      img.height = 96;
      var bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      bar.id = "upload-photo-" + i;
      bar.setAttribute("aria-label", f.name);
      bar.dataset.testid = "photo-progress";
      bar.setAttribute("data-testid", "photo-progress");
      var name = document.createElement("span");
      name.textContent = f.name;
      li.append(img, name, bar);
      ul.appendChild(li);
    });
  }
  function setFiles(photos) {
    var input = field("photos");
    if (!input || !photos || !photos.length || !window.DataTransfer) return;
    var dt = new DataTransfer();
    photos.forEach(function (p) { dt.items.add(new File([p.blob], p.name, { type: p.blob.type || "image/jpeg" })); });
    input.files = dt.files;
    previews();
  }

  // --- What is typed, kept on the device ----------------------------------------------------------

  var KEPT = ["lat", "lng", "type", "severity", "description", "email", "name", "show_name"];
  function values() {
    var out = {};
    KEPT.forEach(function (k) {
      var els = form().querySelectorAll('[name="' + k + '"]');
      Array.prototype.forEach.call(els, function (el) {
        if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
        out[k] = el.value;
      });
    });
    return out;
  }
  function setValues(v) {
    KEPT.forEach(function (k) {
      if (!(k in v)) return;
      Array.prototype.forEach.call(form().querySelectorAll('[name="' + k + '"]'), function (el) {
        if (el.type === "radio" || el.type === "checkbox") el.checked = el.value === v[k];
        else el.value = v[k];
      });
    });
    pinFromFields(17);
  }
  var resized = null; // the chosen photos, resized, once someone needs them
  function photos() {
    var input = field("photos");
    if (!input || !input.files || !input.files.length || !Outbox) return Promise.resolve([]);
    if (!resized) resized = Promise.all(Array.prototype.map.call(input.files, Outbox.resize));
    return resized;
  }
  var draftTimer = null, drafting = true;
  function keepDraft() {
    if (!Outbox || editing || !drafting) return;
    clearTimeout(draftTimer);
    draftTimer = setTimeout(function () {
      photos().then(function (ps) {
        return Outbox.saveDraft({ fields: values(), photos: ps, idem: field("idem").value, savedAt: Date.now() });
      }).catch(function () {});
    }, 400);
  }
  document.addEventListener("input", function (e) { if (e.target.form === form()) keepDraft(); });
  document.addEventListener("change", function (e) {
    if (e.target.form !== form()) return;
    if (e.target.name === "photos") { resized = null; previews(); }
    keepDraft();
  });

  // A page that already holds what the server kept (a form sent back, a draft parked while
  // signing in) shows that; a fresh form takes back what this device kept, or a waiting report.
  var editing = null;
  function fresh() {
    if (document.querySelector("[data-error-summary]") || document.querySelector('[name="photo_keep"]')) return false;
    return ["type", "severity", "description", "email", "name"].every(function (k) {
      var v = values()[k];
      return !v;
    });
  }
  function restore() {
    if (!Outbox) return Promise.resolve();
    var waiting = new URLSearchParams(location.search).get("waiting");
    if (waiting) {
      return Outbox.get(waiting).then(function (rec) {
        if (!rec) return;
        editing = rec;
        field("idem").value = rec.idem;
        setValues(rec.fields || {});
        setFiles(rec.photos);
        var note = document.getElementById("waiting-edit");
        note.hidden = false;
        if (rec.problem) {
          var p = document.createElement("p");
          p.className = "field-error";
          p.textContent = rec.problem;
          note.appendChild(p);
        }
      });
    }
    if (!fresh()) return Promise.resolve();
    var q = new URLSearchParams(location.search), fromMap = q.has("lat") && q.has("lng");
    return Outbox.draft().then(function (dr) {
      if (!dr) return;
      var v = dr.fields || {};
      if (fromMap) { delete v.lat; delete v.lng; } // "Report a hazard here" names a new spot
      setValues(v);
      setFiles(dr.photos);
    });
  }
  document.addEventListener("click", function (e) {
    if (!e.target.closest || !e.target.closest("#waiting-delete") || !editing) return;
    Outbox.remove(editing.idem).then(function () { location.assign("/reports/waiting"); });
  });

  // --- Sending ------------------------------------------------------------------------------------

  var sending = false;

  // keep stores the report on the device to send later, then empties the form for the next one.
  function keep() {
    stopDrafts();
    submitStatus(msg("saving"));
    return photos().then(function (ps) {
      var keepHashes = Array.prototype.map.call(form().querySelectorAll('[name="photo_keep"]:checked'), function (el) { return el.value; });
      var fields = values();
      var distinct = field("confirm_distinct");
      if (distinct && distinct.checked) fields.confirm_distinct = "1";
      return Outbox.put({ idem: field("idem").value, fields: fields, photos: ps, keep: keepHashes, savedAt: Date.now(), problem: "" });
    }).then(function () {
      Outbox.later();
      return Outbox.clearDraft();
    }).then(function () {
      if (editing) { location.assign("/reports/waiting"); return; }
      form().reset();
      field("idem").value = newKey();
      resized = null;
      previews();
      drafting = true;
      submitStatus(msg("kept"));
    });
  }
  function newKey() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return btoa(String.fromCharCode.apply(null, b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function progress(loaded, total) {
    var files = Array.prototype.slice.call(field("photos").files || []);
    var sizes = files.map(function (f) { return f.size; });
    var sum = sizes.reduce(function (a, b) { return a + b; }, 0);
    var start = Math.max(0, total - sum); // the fields come first; count them before the photos
    document.getElementById("upload-total").value = total ? Math.round(100 * loaded / total) : 0;
    sizes.forEach(function (size, i) {
      var bar = document.getElementById("upload-photo-" + i);
      if (bar) bar.value = size ? Math.round(100 * Math.min(1, Math.max(0, (loaded - start) / size))) : 100;
      start += size;
    });
  }

  // sentBack swaps in the form the server sent back (errors, "a different hazard?"), keeping the
  // map (hx-preserve); an error meant for the flash area goes there.
  function sentBack(xhr) {
    var html = xhr.responseText, retarget = xhr.getResponseHeader("HX-Retarget");
    if (retarget) {
      window.htmx.swap(retarget, html, { swapStyle: "innerHTML" });
      return;
    }
    if (html.indexOf('id="report-page"') < 0) {
      submitStatus(msg("failed"));
      return;
    }
    window.htmx.swap("#report-page", html, { swapStyle: "outerHTML" }, { select: "#report-page" });
    var summary = document.querySelector("[data-error-summary]");
    if (summary) summary.focus();
    previews();
  }

  // stopDrafts: the report is on its way; what is typed now belongs to the next one.
  function stopDrafts() { drafting = false; clearTimeout(draftTimer); }

  function send(f) {
    sending = true;
    stopDrafts();
    var button = document.getElementById("submit-report");
    button.disabled = true;
    document.getElementById("upload-progress").hidden = false;
    submitStatus(msg("sending"));
    var xhr = new XMLHttpRequest();
    xhr.open("POST", f.action);
    xhr.setRequestHeader("HX-Request", "true");
    xhr.upload.addEventListener("progress", function (e) { if (e.lengthComputable) progress(e.loaded, e.total); });
    var done = function () { sending = false; var b = document.getElementById("submit-report"); if (b) b.disabled = false; };
    xhr.addEventListener("load", function () {
      var to = xhr.getResponseHeader("HX-Redirect");
      if (xhr.status >= 200 && xhr.status < 300 && to) {
        var idem = field("idem").value;
        Promise.all([Outbox ? Outbox.clearDraft() : null, Outbox ? Outbox.remove(idem) : null]).catch(function () {}).then(function () {
          location.assign(to);
        });
        return;
      }
      done();
      drafting = true;
      if (xhr.status >= 500 && Outbox) { keep(); return; } // the server cannot take it now: later
      sentBack(xhr);
    });
    xhr.addEventListener("error", function () {
      done();
      if (Outbox) keep(); else submitStatus(msg("failed"));
    });
    xhr.send(new FormData(f));
  }

  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f !== form()) return;
    // "Sign in instead" and "use the photo's location" are ordinary submits.
    var by = e.submitter;
    if (by && (by.getAttribute("formaction") || by.name)) return;
    e.preventDefault();
    if (sending) return; // a slow connection: one request at a time
    if (!navigator.onLine && Outbox) { keep(); return; }
    send(f);
  });

  restore().catch(function () {}).then(function () {
    if (!pin) pinFromFields(17);
    near();
    mapEl.dataset.ready = "true";
  });
})();
