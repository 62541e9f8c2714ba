// Runs tests/contracts/gen_fixtures.py (the Python log, ledger.merkle) and loads what it prints.
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..", "..", "..");

/** The venv's Python by default; TALLY_PYTHON overrides it (CI images without a venv). */
function python() {
  if (process.env.TALLY_PYTHON) return process.env.TALLY_PYTHON;
  const venv = path.join(ROOT, ".venv", "bin", "python");
  return fs.existsSync(venv) ? venv : "python3";
}

function loadPythonFixtures(args = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tally-fixtures-"));
  const out = path.join(dir, "fixtures.json");
  try {
    execFileSync(python(), [path.join(__dirname, "..", "gen_fixtures.py"), out, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, PYTHONPATH: ROOT },
    });
    return JSON.parse(fs.readFileSync(out, "utf8"));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { loadPythonFixtures, python, ROOT };
