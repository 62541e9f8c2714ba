// Drives the contributor page in headless Chromium (Debian's, through playwright-core) against a
// live server and anvil: verifies a contribution, sees a tampered proof fail on the "proof" check
// and a tampered header fail on the "header" check, verifies a balance, then does it again at
// phone width. Saves screenshots. Called by tests/page/test_contributor_page.py with a JSON
// argument; prints what it saw as JSON on stdout and exits 1 if an assertion failed.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { installWalletStandIn } from "../js/wallet_stand_in.mjs";

/**
 * @typedef {object} Input
 * @property {string} baseUrl the live server
 * @property {string} address the contributor to look up
 * @property {number} contributionId an anchored contribution of that contributor
 * @property {number} [pendingId] one not sealed yet
 * @property {string} rpcUrl the chain RPC the page must read roots from
 * @property {string} artifacts where screenshots go
 * @property {string} [chromium] the browser binary
 */

/** @type {Input} */
const input = JSON.parse(process.argv[2]);
mkdirSync(input.artifacts, { recursive: true });

const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const PROOF_REQUESTS = "**/v1/contributions/*/proof*";
const TIMEOUT = 15000;

const output = { screenshots: [], consoleErrors: [], rpcMethods: [] };
/** The page in use, for a screenshot of what it showed when an assertion failed. */
let currentPage = null;

/**
 * Record what a page does that the test asserts on: console errors (CSP violations show up
 * there) and the JSON-RPC methods sent to the chain.
 * @param {import("playwright-core").Page} page
 */
function watch(page) {
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (message) => {
    if (message.type() === "error") output.consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => output.consoleErrors.push(`uncaught: ${error.message}`));
  page.on("request", (request) => {
    if (request.url().startsWith(input.rpcUrl) && request.method() === "POST") {
      output.rpcMethods.push(JSON.parse(request.postData() ?? "{}").method);
    }
  });
}

/** @param {import("playwright-core").Page} page @param {string} name */
async function screenshot(page, name) {
  const path = join(input.artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  output.screenshots.push(path);
}

/**
 * Wait for the verification started by a click to finish, and read the result panel.
 * @param {import("playwright-core").Page} page
 */
async function finishedResult(page) {
  await page.locator('#result:not([hidden]):not([data-state="running"])').waitFor();
  return page.evaluate(() => {
    const panel = document.getElementById("result");
    const fields = {};
    for (const row of panel.querySelectorAll("#result-fields > div")) {
      fields[row.dataset.field] = row.querySelector("code").textContent;
    }
    return {
      state: panel.dataset.state,
      failedCheck: panel.dataset.failedCheck || null,
      summary: document.getElementById("result-summary").textContent,
      checks: [...panel.querySelectorAll("#result-checks li")].map((li) => ({
        name: li.dataset.check,
        ok: li.dataset.ok === "true",
        text: li.textContent,
      })),
      transactionHref: panel.querySelector("#result-transaction a")?.href ?? null,
      transactionText: panel.querySelector("#result-transaction")?.textContent ?? null,
      readContractHref: panel.querySelector("#result-read-contract")?.href ?? null,
      fields,
      focused: document.activeElement === panel,
    };
  });
}

/**
 * Serve the proof bundles through a function that alters them, as a compromised API would.
 * @param {import("playwright-core").Page} page
 * @param {(bundle: any) => void} alter
 */
async function tamperProofs(page, alter) {
  await page.unroute(PROOF_REQUESTS);
  await page.route(PROOF_REQUESTS, async (route) => {
    const response = await route.fetch();
    const bundle = await response.json();
    alter(bundle);
    await route.fulfill({ response, json: bundle });
  });
}

/** Flip the last byte of a 0x-hex value (one byte changed, still valid hex of the same length). */
function flipLastByte(hex) {
  const last = parseInt(hex.slice(-2), 16) ^ 0xff;
  return hex.slice(0, -2) + last.toString(16).padStart(2, "0");
}

/** @param {import("playwright-core").Page} page */
async function readAccount(page) {
  return page.evaluate(() => ({
    balance: document.getElementById("balance").textContent,
    pending: document.getElementById("pending").textContent,
    contributionRows: document.querySelectorAll("#contributions tbody tr").length,
    epochRows: [...document.querySelectorAll("#epochs tbody tr")].map((tr) => tr.dataset.epoch),
    statuses: Object.fromEntries(
      [...document.querySelectorAll("#contributions tbody tr")].map((tr) => [
        tr.dataset.contributionId,
        { status: tr.querySelector(".badge").textContent, verifyEnabled: !tr.querySelector("button").disabled },
      ]),
    ),
  }));
}

async function desktop(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  currentPage = page;
  watch(page);
  await page.goto(`${input.baseUrl}/`);
  await page.getByLabel("Ethereum address").fill(input.address);
  await page.getByRole("button", { name: "Show", exact: true }).click();
  const row = page.locator(`tr[data-contribution-id="${input.contributionId}"]`);
  await row.waitFor();
  await page.locator("#epochs tbody tr").first().waitFor();
  output.account = await readAccount(page);

  // 1. The honest proof verifies.
  await row.getByRole("button", { name: `Verify contribution ${input.contributionId}` }).click();
  output.contribution = await finishedResult(page);
  assert.equal(output.contribution.state, "verified", output.contribution.summary);
  await screenshot(page, "desktop-verified");

  // 2. One byte of one proof element flipped on its way from the API: the proof check fails.
  const rpcBefore = output.rpcMethods.length;
  await tamperProofs(page, (bundle) => {
    bundle.proof[0] = flipLastByte(bundle.proof[0]);
  });
  await row.getByRole("button", { name: `Verify contribution ${input.contributionId}` }).click();
  output.tamperedProof = await finishedResult(page);
  output.tamperedProof.rpcCalls = output.rpcMethods.length - rpcBefore;
  assert.equal(output.tamperedProof.state, "failed");
  assert.equal(output.tamperedProof.failedCheck, "proof");
  assert.match(output.tamperedProof.summary, /the proof check failed/);
  await screenshot(page, "desktop-tampered-proof");

  // 3. A root the API invents is not believed: the header must hash to what the contract holds.
  await tamperProofs(page, (bundle) => {
    bundle.header.logRoot = flipLastByte(bundle.header.logRoot);
  });
  await row.getByRole("button", { name: `Verify contribution ${input.contributionId}` }).click();
  output.tamperedHeader = await finishedResult(page);
  assert.equal(output.tamperedHeader.failedCheck, "header");
  await page.unroute(PROOF_REQUESTS);

  // 4. The balance verifies.
  await page.getByRole("button", { name: "Verify balance" }).click();
  output.balance = await finishedResult(page);
  assert.equal(output.balance.state, "verified", output.balance.summary);
  await screenshot(page, "desktop-balance");
  await context.close();
}

async function phone(browser) {
  const context = await browser.newContext({
    viewport: { width: 375, height: 812 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  // The one stand-in wallet of the browser tests (a wallet extension cannot be installed here),
  // sharing the address in lower case as MetaMask does; it tells the page when its user switches.
  const standIn = await installWalletStandIn(context, { wallet: { address: input.address }, chainId: 31337,
    lowercase: true });
  const page = await context.newPage();
  currentPage = page;
  watch(page);
  await page.goto(`${input.baseUrl}/`);
  await page.getByRole("button", { name: "Connect wallet" }).tap();
  const row = page.locator(`tr[data-contribution-id="${input.contributionId}"]`);
  await row.waitFor();
  // The address is now in the URL, checksummed: a link a contributor can bookmark.
  output.phoneUrl = page.url();
  await page.reload();
  await row.waitFor();
  await page.locator("#epochs tbody tr").first().waitFor();
  await screenshot(page, "phone-account");
  await row.getByRole("button", { name: `Verify contribution ${input.contributionId}` }).tap();
  output.phone = await finishedResult(page);
  assert.equal(output.phone.state, "verified", output.phone.summary);
  output.phone.layout = await page.evaluate(() => {
    // Visually hidden text (for screen readers) is clipped to nothing: it cannot overflow.
    const clippedAway = (e) => {
      for (let a = e; a; a = a.parentElement) if (getComputedStyle(a).clip !== "auto") return true;
      return false;
    };
    const wide = [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && e.offsetParent !== null)
      .filter((e) => !clippedAway(e))
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ""}.${e.className}`);
    return {
      viewport: window.innerWidth,
      scrollWidth: document.documentElement.scrollWidth,
      overflowing: wide.slice(0, 10),
      tableHeaderHidden: getComputedStyle(document.querySelector("#contributions thead")).position === "absolute",
    };
  });
  await screenshot(page, "phone-verified");
  // Connected again (the reload showed the address from the URL, which the page leaves as it is),
  // the wallet's user switches accounts: the page shows the new one, as on connecting it.
  await page.getByRole("button", { name: "Connect wallet" }).tap();
  await standIn.listening(page);
  await standIn.switchTo(page, { address: SWITCHED_TO });
  await page.waitForFunction((want) => new URL(location.href).searchParams.get("address") === want, SWITCHED_TO);
  output.switchedUrl = page.url();
  output.switchedShown = await page.locator("#address").inputValue();
  await context.close();
}

/** The wallet's second account (any address: the page only shows it). */
const SWITCHED_TO = "0x000000000000000000000000000000000000dEaD";

const browser = await chromium.launch({ executablePath: input.chromium ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
let failed = false;
try {
  await desktop(browser);
  await phone(browser);
} catch (error) {
  failed = true;
  output.error = `${error.name}: ${error.message}`;
  await currentPage?.screenshot({ path: join(input.artifacts, "failure.png"), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(output));
process.exit(failed ? 1 : 0);
