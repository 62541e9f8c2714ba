// Follows one account on the contributor page, in headless Chromium, from "only pending
// contributions" to "verified", without reloading. Called by tests/page/test_page_pending.py,
// which seals and anchors the epoch in between: this script prints one JSON line per state it
// saw ({"event": "pending" | "sealed" | "done" | "error", ...}) and, after "pending" and
// "sealed", waits for a line on stdin saying the server moved on ("sealed", "anchored").
// It asserts nothing itself: the Python test does, on what it printed.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

/**
 * @typedef {object} Input
 * @property {string} baseUrl the live server
 * @property {string} address the contributor, with only pending contributions at the start
 * @property {number} contributionId one of them
 * @property {string} artifacts where screenshots go
 * @property {string} [chromium] the browser binary
 */

/** @type {Input} */
const input = JSON.parse(process.argv[2]);
mkdirSync(input.artifacts, { recursive: true });

const CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"];
/** Long enough for a refresh that backs off (app.js polls every 3 s, growing while nothing changes). */
const TIMEOUT = 25000;

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const consoleErrors = [];
const screenshots = [];

/** @param {string} event @param {object} data */
function emit(event, data = {}) {
  process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);
}

/** @param {string} expected the line the test sends once the server has moved on */
async function waitFor(expected) {
  const { value, done } = await lines.next();
  if (done || value.trim() !== expected) throw new Error(`expected "${expected}" on stdin, got ${done ? "EOF" : value}`);
}

/** @param {import("playwright-core").Page} page @param {string} name */
async function screenshot(page, name) {
  const path = join(input.artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  screenshots.push(path);
}

/**
 * Everything the test asserts on, read from the page as it is: the balance button and its
 * note, the next-seal lines, the result panel, each contribution row.
 * @param {import("playwright-core").Page} page
 */
function readPage(page) {
  return page.evaluate(() => {
    const q = (selector) => document.querySelector(selector);
    const shown = (selector) => {
      const element = q(selector);
      return element !== null && element.closest("[hidden]") === null;
    };
    const textIfShown = (selector) => (shown(selector) ? q(selector).textContent.replace(/\s+/g, " ").trim() : null);
    const result = q("#result");
    return {
      verifyBalanceDisabled: q("#verify-balance").disabled,
      balanceNote: textIfShown("#verify-balance-note"),
      balanceWaitingFor: q("#verify-balance-note")?.dataset.waitingFor ?? null,
      accountNextSeal: textIfShown("#next-seal"),
      epochsNextSeal: textIfShown("#epochs-next-seal"),
      result: result.hidden ? null : {
        state: result.dataset.state, className: result.className, summary: q("#result-summary").textContent,
        notYet: q("#result-not-yet")?.textContent ?? null,
      },
      rows: Object.fromEntries([...document.querySelectorAll("#contributions tbody tr")].map((tr) => {
        const storage = tr.querySelector(".storage");
        const button = tr.querySelector("button");
        return [tr.dataset.contributionId, {
          status: tr.querySelector(".badge").textContent,
          statusCell: tr.querySelector('[data-label="Status"]').textContent.replace(/\s+/g, " ").trim(),
          button: { text: button.textContent, disabled: button.disabled, name: button.getAttribute("aria-label") },
          storage: storage.textContent.replace(/\s+/g, " ").trim(),
          storageHref: storage.getAttribute("href"),
        }];
      })),
      epochStates: [...document.querySelectorAll("#epochs tbody tr")].map((tr) => tr.querySelector(".badge").textContent),
      polling: document.body.dataset.polling ?? null,
      // Set once when the page was opened: still there means the page was never reloaded.
      sameDocument: window.tallyTestOpenedAt === "once",
    };
  });
}

/**
 * The page's answer when a contributor clicks a button whose page is out of date (the server
 * moved on since the last refresh): the button is enabled as it would have been, and clicked.
 * The server answers for real; the page must call that "not yet", not a failure.
 * @param {import("playwright-core").Page} page
 * @param {string} selector
 */
async function clickAsIfStale(page, selector) {
  await page.evaluate((s) => { document.querySelector(s).disabled = false; }, selector);
  await page.locator(selector).click();
  await page.locator('#result:not([hidden]):not([data-state="running"])').waitFor();
  if ((await readPage(page)).result.state === "not-yet") await page.locator("#result-not-yet").waitFor();
  return (await readPage(page)).result;
}

/** The number of seconds in "Next epoch sealed in about N s.", or null. */
function seconds(text) {
  const match = /in about (\d+) s/.exec(text ?? "");
  return match ? Number(match[1]) : null;
}

const browser = await chromium.launch({ executablePath: input.chromium ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
let page = null;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(`uncaught: ${error.message}`));
  await page.goto(`${input.baseUrl}/?address=${input.address}`);
  await page.locator('body[data-ready="true"]').waitFor();
  await page.evaluate(() => { window.tallyTestOpenedAt = "once"; });
  const row = `tr[data-contribution-id="${input.contributionId}"]`;

  // 1. Only pending contributions.
  const pending = await readPage(page);
  await screenshot(page, "pending-account");
  // The countdown is relative and counts down between refreshes: read it again as soon as it has
  // moved (not after a fixed wait, which on a loaded machine can outlast the countdown itself).
  await page.waitForFunction((before) => {
    const match = /in about (\d+) s/.exec(document.querySelector("#verify-balance-note")?.textContent ?? "");
    return match !== null && Number(match[1]) < before;
  }, seconds(pending.balanceNote) ?? 0);
  pending.nextSealLater = (await readPage(page)).balanceNote;
  pending.staleBalanceClick = await clickAsIfStale(page, "#verify-balance");
  // The click made the page look again: the button is off again.
  await page.locator("#verify-balance[disabled]").waitFor();
  pending.afterStaleClick = await readPage(page);
  await screenshot(page, "pending-not-yet");
  emit("pending", { state: pending, countdown: [seconds(pending.balanceNote), seconds(pending.nextSealLater)] });

  // 2. The test sealed the epoch once it was due: the page shows it without a reload.
  await waitFor("sealed");
  await page.locator(`${row} .badge.sealed`).waitFor();
  const sealed = await readPage(page);
  sealed.staleContributionClick = await clickAsIfStale(page, `${row} button`);
  await screenshot(page, "sealed-not-final");
  emit("sealed", { state: sealed });

  // 3. The test anchored it: final, and both verifications now pass against the chain.
  await waitFor("anchored");
  await page.locator(`${row} .badge.anchored`).waitFor();
  await page.locator("#verify-balance:not([disabled])").waitFor();
  const final = await readPage(page);
  await page.getByRole("button", { name: "Verify balance" }).click();
  await page.locator('#result:not([hidden]):not([data-state="running"]):not([data-state="not-yet"])').waitFor();
  final.balanceResult = (await readPage(page)).result;
  await page.getByRole("button", { name: `Verify contribution ${input.contributionId}` }).click();
  await page.locator('#result-summary:has-text("contribution")').waitFor();
  await page.locator('#result:not([hidden]):not([data-state="running"])').waitFor();
  final.contributionResult = (await readPage(page)).result;
  // Nothing pending any more: the page stops refreshing.
  await page.locator('body[data-polling="false"]').waitFor();
  final.after = await readPage(page);
  await screenshot(page, "final-verified");
  emit("done", { state: final, consoleErrors, screenshots });
} catch (error) {
  const state = page ? await readPage(page).catch(() => null) : null;
  await page?.screenshot({ path: join(input.artifacts, "pending-failure.png"), fullPage: true }).catch(() => {});
  emit("error", { error: `${error.name}: ${error.message}`, state, consoleErrors });
  process.exitCode = 1;
} finally {
  await browser.close();
}
process.exit();
