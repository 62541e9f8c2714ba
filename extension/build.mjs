// Fills extension/vendor/ with what the extension imports but the repository does not commit:
// the Tally client (copied from clients/js, its one source) and ethers' ES module bundle (520 KB,
// taken from node_modules so that its version is the one package-lock.json pins, with its licence).
// Run after `npm ci`:  npm run build:extension   (then load extension/ unpacked)
//
// The client imports ethers through ./ethers.mjs; under node that file re-exports the npm package,
// here it re-exports the bundle, because extension pages cannot resolve a bare "ethers".
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const extension = dirname(fileURLToPath(import.meta.url));
const root = dirname(extension);
const vendor = join(extension, "vendor");
const ethers = join(root, "node_modules", "ethers");

if (!existsSync(join(ethers, "dist", "ethers.min.js"))) {
  console.error(`build:extension: ${ethers} is missing; run npm ci first`);
  process.exit(1);
}
mkdirSync(vendor, { recursive: true });
copyFileSync(join(ethers, "dist", "ethers.min.js"), join(vendor, "ethers.min.js"));
copyFileSync(join(ethers, "LICENSE.md"), join(vendor, "ethers.LICENSE.md"));
const { version } = JSON.parse(readFileSync(join(ethers, "package.json"), "utf8"));
writeFileSync(
  join(vendor, "ethers.mjs"),
  `// Written by extension/build.mjs: the client's ethers is the vendored bundle of ethers ${version}.\n` +
    `export * from "./ethers.min.js";\n`,
);
for (const file of ["tally-client.mjs", "personal-data.mjs", "unicode-table.mjs", "scoring.mjs", "scoring-rules.mjs"]) {
  copyFileSync(join(root, "clients", "js", file), join(vendor, file));
}
console.log(`build:extension: vendor/ holds the Tally client and ethers ${version}`);
