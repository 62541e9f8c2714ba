// Fills extension/vendor/ with what the extension imports but the repository does not commit:
// the Tally client (copied from clients/js, its one source), the contributor page's proof
// verification (copied from api/static, its one source) and ethers' ES module bundle (taken
// from node_modules so that its version is the one package-lock.json pins, with its licence).
//
//   node extension/build.mjs                    vendor/ only: load extension/ unpacked
//   node extension/build.mjs --out DIR          also DIR/: the files a release ships
//   TALLY_API_URL=https://api.example node extension/build.mjs --out DIR
//                                               ...for a deployment: its origin is added to the
//                                               host permissions and to externally_connectable
//                                               (the /connect wallet page must reach the extension)
//
// The client imports ethers through ./ethers.mjs; under node that file re-exports the npm package,
// here it re-exports the bundle, because extension pages cannot resolve a bare "ethers".
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
// "My contributions" verifies proofs with the contributor page's own code.
const page = join(vendor, "page");
mkdirSync(page, { recursive: true });
for (const file of ["verify.js", "chain.js", "hashing.js"]) copyFileSync(join(root, "api", "static", file), join(page, file));
cpSync(join(root, "api", "static", "vendor", "noble-hashes"), join(page, "vendor", "noble-hashes"), { recursive: true });
console.log(`build:extension: vendor/ holds the Tally client, the page's verifier and ethers ${version}`);

const at = process.argv.indexOf("--out");
if (at !== -1) {
  const out = process.argv[at + 1];
  if (!out) {
    console.error("build:extension: --out needs a directory");
    process.exit(2);
  }
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const shipped = ["app.html", "app.mjs", "background.js", "bridge.mjs", "chatgpt.mjs", "chatgpt-export.mjs", "chatgpt-images.mjs", "keys.mjs", "mine.mjs",
    "options.html", "options.mjs", "selection.mjs", "share.mjs", "storage.mjs", "style.css", "zip.mjs"];
  for (const file of shipped) copyFileSync(join(extension, file), join(out, file));
  cpSync(vendor, join(out, "vendor"), { recursive: true });
  const manifest = JSON.parse(readFileSync(join(extension, "manifest.json"), "utf8"));
  const api = process.env.TALLY_API_URL;
  if (api) {
    const origin = new URL(api).origin;
    const pattern = `${origin}/*`;
    manifest.host_permissions = [...new Set([...manifest.host_permissions, pattern])];
    manifest.externally_connectable.matches = [...new Set([...manifest.externally_connectable.matches, pattern])];
  }
  writeFileSync(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`build:extension: ${out} holds the extension${api ? ` for ${new URL(api).origin}` : ""}`);
}
