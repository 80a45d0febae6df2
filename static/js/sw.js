// The service worker (served as /sw.js, after a line that sets HW_SW: this build's version, the
// language, the pages and static files of the app shell, and offline.js). It keeps the app shell
// so the map, the report form and the list of waiting reports open without a connection; keeps
// the map's last answer and serves it, marked as possibly out of date, when offline; and sends
// reports kept on the device when Background Sync says the connection is back. It answers only
// GET requests of this origin; everything else goes to the network untouched.
/* global HW_SW, HWOutbox */
"use strict";
importScripts(HW_SW.outbox);

var SHELL = "hw-shell-" + HW_SW.version;
var DATA = "hw-data"; // the map's last answer
var LAST_MAP = "/api/reports?last";

self.addEventListener("install", function (e) {
  e.waitUntil(caches.open(SHELL).then(function (cache) {
    // Pages are kept as someone signed out sees them (no one's name or session in the cache),
    // in the language the registering page spoke.
    var pages = HW_SW.pages.map(function (p) {
      return fetch(p + "?lang=" + encodeURIComponent(HW_SW.lang), { credentials: "omit", cache: "no-store" }).then(function (r) {
        if (!r.ok) throw new Error(p + ": " + r.status);
        return cache.put(p, r);
      });
    });
    return Promise.all([cache.addAll(HW_SW.assets)].concat(pages));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (e) {
  e.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== SHELL && k !== DATA; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function fromShell(key, opts) {
  return caches.open(SHELL).then(function (c) { return c.match(key, opts); });
}

// page: the network first (pages carry the latest reports and the session); offline, the kept
// copy of the same page, or the map.
function page(req) {
  return fetch(req).catch(function () {
    var path = new URL(req.url).pathname;
    var key = HW_SW.pages.indexOf(path) >= 0 ? path : "/";
    return fromShell(key, { ignoreVary: true }).then(function (r) { return r || Response.error(); });
  });
}

// asset: static files have content-hashed URLs, so a kept copy of the exact URL is always right;
// another version's copy serves only when the network fails.
function asset(req) {
  return fromShell(req, { ignoreVary: true }).then(function (hit) {
    return hit || fetch(req).catch(function () {
      return fromShell(req, { ignoreVary: true, ignoreSearch: true }).then(function (r) { return r || Response.error(); });
    });
  });
}

// mapData keeps the map's last answer; offline it serves that (whatever the view) and tells the
// page its markers may be out of date.
function mapData(req, clientId) {
  return fetch(req).then(function (r) {
    if (r.ok) {
      var copy = r.clone();
      caches.open(DATA).then(function (c) { return c.put(LAST_MAP, copy); }).catch(function () {});
    }
    return r;
  }, function () {
    return caches.open(DATA).then(function (c) { return c.match(LAST_MAP, { ignoreVary: true }); }).then(function (r) {
      if (!r) return Response.error();
      self.clients.get(clientId).then(function (client) {
        if (client) client.postMessage({ type: "hw:stale-map" });
      });
      return r;
    });
  });
}

self.addEventListener("fetch", function (e) {
  var req = e.request, url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.method === "POST" && url.pathname === "/logout") {
    // What the map showed a signed-in person stays on this device no longer than the session.
    e.waitUntil(caches.delete(DATA));
    return;
  }
  if (req.method !== "GET") return;
  if (req.mode === "navigate") {
    e.respondWith(page(req));
  } else if (url.pathname.indexOf("/static/") === 0) {
    e.respondWith(asset(req));
  } else if (url.pathname === "/api/reports") {
    e.respondWith(mapData(req, e.clientId));
  }
});

self.addEventListener("sync", function (e) {
  if (e.tag === "hw-outbox") e.waitUntil(HWOutbox.flush());
});
