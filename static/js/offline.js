// Reports kept on this device. A report made without a connection (or whose sending failed) is
// stored in IndexedDB with its photos, resized here first, and sent once the connection is back:
// on the "online" event, on the next page load, or by the service worker's Background Sync,
// whichever comes first (a Web Lock keeps them from sending together). Each report carries the
// form's idempotency key, so sending it again after a lost answer finds the report it made
// instead of making another. The same file runs in pages (banner, list of waiting reports, the
// worker's registration) and in the service worker (importScripts), which reads only HWOutbox.
(function (root) {
  "use strict";
  if (!root.indexedDB) return;
  var DB = "hazardwatch", OUTBOX = "outbox", DRAFTS = "drafts";

  function openDB() {
    return new Promise(function (resolve, reject) {
      var r = root.indexedDB.open(DB, 1);
      r.onupgradeneeded = function () {
        r.result.createObjectStore(OUTBOX, { keyPath: "idem" });
        r.result.createObjectStore(DRAFTS);
      };
      r.onsuccess = function () { resolve(r.result); };
      r.onerror = function () { reject(r.error); };
    });
  }
  // run issues one request in a transaction and answers its result once the transaction is done.
  function run(store, mode, op) {
    return openDB().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(store, mode), req = op(t.objectStore(store));
        t.oncomplete = function () { db.close(); resolve(req.result); };
        t.onerror = t.onabort = function () { db.close(); reject(t.error); };
      });
    });
  }

  var channel = root.BroadcastChannel ? new root.BroadcastChannel("hw-outbox") : null;
  function changed(v) {
    if (channel) channel.postMessage("changed"); // other tabs and the worker
    if (root.document) document.dispatchEvent(new CustomEvent("hw:outbox")); // this page
    return v;
  }

  // resize shrinks a photo to at most 1600 px on its longest side as a JPEG (upright, no
  // metadata): a phone's 4 MB photo becomes a few hundred kB to keep and to send on a weak signal.
  function resize(file) {
    if (!root.createImageBitmap || !root.OffscreenCanvas) return Promise.resolve({ name: file.name, blob: file });
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bmp) {
      var scale = Math.min(1, 1600 / Math.max(bmp.width, bmp.height));
      var w = Math.max(1, Math.round(bmp.width * scale)), h = Math.max(1, Math.round(bmp.height * scale));
      var canvas = new OffscreenCanvas(w, h);
      canvas.getContext("2d").drawImage(bmp, 0, 0, w, h);
      bmp.close();
      return canvas.convertToBlob({ type: "image/jpeg", quality: 0.85 });
    }).then(function (blob) {
      return { name: (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg", blob: blob };
    }, function () {
      return { name: file.name, blob: file }; // not an image this browser can read: the server says so
    });
  }

  // token is a fresh CSRF token (a page kept offline may carry an old one).
  function token() {
    return fetch("/reports/new", { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      return r.text();
    }).then(function (html) {
      var m = /<meta name="csrf-token" content="([^"]+)"/.exec(html);
      if (!m) throw new Error("no token");
      return m[1];
    });
  }

  // problemText is what the server said was wrong, where this context can read HTML.
  function problemText(html) {
    if (!root.DOMParser) return "";
    var doc = new DOMParser().parseFromString(html, "text/html");
    var items = doc.querySelectorAll("[data-error-summary] li");
    return Array.prototype.map.call(items, function (li) { return li.textContent.trim(); }).join(" ");
  }

  // send posts one kept report. Answers "sent", "problem" (kept, with the server's words, for
  // its author to fix) or "later" (no connection, or the server cannot take it now).
  function send(rec, csrf) {
    var fd = new FormData();
    fd.append("_csrf", csrf);
    fd.append("idem", rec.idem);
    Object.keys(rec.fields || {}).forEach(function (k) {
      if (rec.fields[k]) fd.append(k, rec.fields[k]);
    });
    (rec.keep || []).forEach(function (h) { fd.append("photo_keep", h); });
    (rec.photos || []).forEach(function (p) { fd.append("photos", p.blob, p.name); });
    return fetch("/reports", { method: "POST", body: fd, credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) {
        if (r.ok) return "sent";
        if (r.status === 422 || r.status === 409 || r.status === 413) {
          return r.text().then(function (html) {
            rec.problem = problemText(html) || String(r.status);
            return run(OUTBOX, "readwrite", function (s) { return s.put(rec); }).then(changed).then(function () { return "problem"; });
          });
        }
        return "later";
      }, function () { return "later"; });
  }

  var flushing = null;
  // flush sends every kept report that has no problem, one at a time, and answers how many went.
  function flush() {
    if (flushing) return flushing;
    var job = function () {
      return Outbox.all().then(function (recs) {
        recs = recs.filter(function (r) { return !r.problem; });
        if (!recs.length) return 0;
        return token().then(function (csrf) {
          var sent = 0;
          var next = function (i) {
            if (i >= recs.length) return sent;
            return send(recs[i], csrf).then(function (res) {
              if (res === "later") return sent;
              if (res === "problem") return next(i + 1);
              sent++;
              return Outbox.remove(recs[i].idem).then(function () { return next(i + 1); });
            });
          };
          return next(0);
        }, function () { return 0; });
      });
    };
    var locks = root.navigator && root.navigator.locks;
    flushing = (locks ? locks.request("hw-outbox", job) : job()).then(function (n) {
      flushing = null;
      return n;
    }, function (err) {
      flushing = null;
      throw err;
    });
    return flushing;
  }

  var Outbox = {
    all: function () { return run(OUTBOX, "readonly", function (s) { return s.getAll(); }); },
    get: function (idem) { return run(OUTBOX, "readonly", function (s) { return s.get(idem); }); },
    put: function (rec) { return run(OUTBOX, "readwrite", function (s) { return s.put(rec); }).then(changed); },
    remove: function (idem) { return run(OUTBOX, "readwrite", function (s) { return s.delete(idem); }).then(changed); },
    draft: function () { return run(DRAFTS, "readonly", function (s) { return s.get("form"); }); },
    saveDraft: function (d) { return run(DRAFTS, "readwrite", function (s) { return s.put(d, "form"); }); },
    clearDraft: function () { return run(DRAFTS, "readwrite", function (s) { return s.delete("form"); }); },
    resize: resize,
    flush: flush,
    // later asks the service worker to send the kept reports when the connection returns, where
    // the browser has Background Sync; pages also try on "online" and on their next load.
    later: function () {
      if (!root.navigator.serviceWorker) return;
      navigator.serviceWorker.ready.then(function (reg) {
        if (reg.sync) return reg.sync.register("hw-outbox");
      }).catch(function () {});
    },
  };
  root.HWOutbox = Outbox;
  if (!root.document) return; // the service worker needs no more

  // --- Pages ------------------------------------------------------------------------------------

  function plural(el, attr, n) {
    var forms = JSON.parse(el.getAttribute(attr) || "{}");
    var cat = new Intl.PluralRules(document.documentElement.lang || "en").select(n);
    return (forms[cat] || forms.other || "").replace("{n}", n.toLocaleString(document.documentElement.lang || "en"));
  }

  function banner() {
    var el = document.getElementById("outbox-banner");
    if (!el) return Promise.resolve();
    return Outbox.all().then(function (recs) {
      var problems = recs.filter(function (r) { return r.problem; }).length, waiting = recs.length - problems;
      var text = [];
      if (waiting) text.push(plural(el, "data-waiting", waiting));
      if (problems) text.push(plural(el, "data-problems", problems));
      document.getElementById("outbox-text").textContent = text.join(" ");
      el.hidden = !recs.length;
      return list(recs);
    }).catch(function () {});
  }

  function say(message) {
    var area = document.getElementById("flash");
    if (!area || !message) return;
    var div = document.createElement("div");
    div.className = "flash flash-success";
    div.setAttribute("role", "status");
    div.textContent = message;
    area.replaceChildren(div);
  }

  function sendNow() {
    if (!navigator.onLine) return Promise.resolve(0);
    return flush().then(function (n) {
      var el = document.getElementById("outbox-banner");
      if (n && el) say(plural(el, "data-sent", n));
      return banner();
    }).catch(function () {});
  }

  // list fills /reports/waiting.
  function list(recs) {
    var ul = document.getElementById("waiting-list"), tpl = document.getElementById("waiting-item");
    if (!ul || !tpl) return;
    var types = JSON.parse(ul.dataset.types || "{}");
    var when = new Intl.DateTimeFormat(document.documentElement.lang || "en", { dateStyle: "medium", timeStyle: "short" });
    recs.sort(function (a, b) { return a.savedAt - b.savedAt; });
    ul.replaceChildren();
    recs.forEach(function (r) {
      var li = tpl.content.firstElementChild.cloneNode(true), t = types[(r.fields || {}).type] || ["", ""];
      li.dataset.idem = r.idem;
      li.querySelector(".w-icon").textContent = t[0];
      li.querySelector(".w-type").textContent = t[1];
      li.querySelector(".w-desc").textContent = (r.fields || {}).description || "";
      var meta = ul.dataset.msgSaved.replace("{when}", when.format(new Date(r.savedAt)));
      if (r.photos && r.photos.length) meta += " · " + plural(ul, "data-msg-photos", r.photos.length);
      li.querySelector(".w-meta").textContent = meta;
      var state = li.querySelector(".w-state");
      state.textContent = r.problem || ul.dataset.msgWaiting;
      if (r.problem) state.classList.add("field-error");
      li.querySelector(".w-edit").href = "/reports/new?waiting=" + encodeURIComponent(r.idem);
      li.querySelector(".w-delete").addEventListener("click", function () {
        Outbox.remove(r.idem).then(function () {
          document.getElementById("waiting-status").textContent = ul.dataset.msgDeleted;
        });
      });
      ul.appendChild(li);
    });
    var empty = document.getElementById("waiting-empty");
    if (empty) empty.hidden = recs.length > 0;
    ul.dataset.ready = "true";
  }

  function offlineNote(stale) {
    var note = document.getElementById("offline-note");
    if (!note) return;
    if (stale) note.textContent = note.dataset.stale;
    note.hidden = navigator.onLine && !stale;
  }

  document.addEventListener("hw:outbox", banner);
  if (channel) channel.onmessage = banner;
  root.addEventListener("online", function () { offlineNote(false); sendNow(); });
  root.addEventListener("offline", function () { offlineNote(false); });
  document.addEventListener("DOMContentLoaded", function () {
    var send = document.getElementById("waiting-send");
    if (send) send.addEventListener("click", sendNow);
    offlineNote(false);
    banner().then(sendNow);
  });
  if (navigator.serviceWorker) {
    navigator.serviceWorker.addEventListener("message", function (e) {
      if (e.data && e.data.type === "hw:stale-map") offlineNote(true);
    });
    navigator.serviceWorker.register("/sw.js?lang=" + encodeURIComponent(document.documentElement.lang || "en")).catch(function () {});
  }
})(self);
