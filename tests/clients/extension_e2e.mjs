// Drives the unpacked extension in headless Chromium against a live Tally API, as a user would:
// set the API URL in the options, paste a conversation, agree, submit, read the receipt; submit it
// again (409); pick one conversation of an export file; paste one the API would refuse; paste one
// holding personal data, see it replaced in the preview, submit it redacted.
// stdin: {chromium, extensionDir, userDataDir, screenshots, api, pasted: {conversation, contentHash},
//         exportFile, pickIndex, pickedHash, rejected: {conversation, code}, personal: {conversation}}
// stdout: one JSON object of what the pages showed (tests/clients/test_extension.py checks it).
import { chromium } from "playwright-core";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const context = await chromium.launchPersistentContext(input.userDataDir, {
  executablePath: input.chromium,
  headless: false, // headless comes from --headless=new below, as Playwright's own flag differs
  ignoreDefaultArgs: ["--disable-extensions"],
  args: [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    `--disable-extensions-except=${input.extensionDir}`, `--load-extension=${input.extensionDir}`,
  ],
});
context.setDefaultTimeout(20_000);
/** @type {string[]} */
const pageErrors = [];
const output = {};

try {
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent("serviceworker"));
  const extensionId = new URL(worker.url()).host;
  output.extensionId = extensionId;
  const base = `chrome-extension://${extensionId}`;
  const shot = (/** @type {import("playwright-core").Page} */ page, /** @type {string} */ name) =>
    page.screenshot({ path: `${input.screenshots}/${name}.png`, fullPage: true });

  // Options: point the extension at the test server.
  const options = await context.newPage();
  options.on("pageerror", (e) => pageErrors.push(`options: ${e.message}`));
  await options.goto(`${base}/options.html`);
  await options.fill("#api-url", input.api);
  await options.click("#save");
  await options.waitForFunction(() => document.getElementById("saved")?.textContent?.startsWith("Saved"));
  output.savedApi = await options.inputValue("#api-url");
  output.originShown = await options.textContent("#origin");
  await shot(options, "1-options");
  await options.close();

  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`app: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") pageErrors.push(`console: ${m.text()}`); });
  await page.goto(`${base}/app.html`);
  await page.waitForSelector("body[data-ready=true]");
  output.apiStatus = await page.textContent("#api-status");
  output.termsHash = await page.textContent("#terms-hash");
  output.address = await page.textContent("#local-address");

  // A pasted conversation: preview, agree, submit, receipt.
  await page.fill("#conversation", JSON.stringify(input.pasted.conversation));
  await page.waitForSelector("#preview:not([hidden])");
  output.previewHash = await page.textContent("#content-hash");
  await page.check("#agree");
  await page.click("#submit");
  await page.waitForSelector("#result[data-state=accepted]:not([hidden]), #error:not([hidden])");
  output.accepted = await resultOf(page);
  await shot(page, "2-accepted");

  // The same conversation again: signed with a fresh nonce, refused as a duplicate.
  await page.click("#submit");
  await page.waitForSelector("#result[data-state=duplicate]:not([hidden]), #error:not([hidden])");
  output.duplicate = await resultOf(page);
  await shot(page, "3-duplicate");

  // One conversation picked out of an export file.
  await page.setInputFiles("#file", input.exportFile);
  await page.waitForSelector("#pick:not([hidden])");
  output.pickOptions = await page.$$eval("#pick option", (os) => os.map((o) => o.textContent));
  await page.selectOption("#pick", String(input.pickIndex));
  await page.waitForFunction((h) => document.getElementById("content-hash")?.textContent === h, input.pickedHash);
  output.pickedPreviewHash = await page.textContent("#content-hash");
  await page.click("#submit");
  await page.waitForSelector("#result[data-state=accepted]:not([hidden]), #error:not([hidden])");
  output.picked = await resultOf(page);
  output.receiptsKept = await page.$$eval("#receipts li", (lis) => lis.length);
  await shot(page, "4-picked");

  // A conversation the API would refuse is refused before signing, with the same code.
  await page.fill("#conversation", JSON.stringify(input.rejected.conversation));
  await page.waitForSelector("#preview-error:not([hidden])");
  output.rejected = {
    message: await page.textContent("#preview-error"),
    submitDisabled: await page.isDisabled("#submit"),
  };
  await shot(page, "5-rejected");

  // Personal data: the preview says what is replaced and shows the placeholders; that is signed.
  await page.fill("#conversation", JSON.stringify(input.personal.conversation));
  await page.waitForSelector("#preview-findings:not([hidden])");
  output.personal = {
    findings: await page.textContent("#preview-findings"),
    messages: await page.$$eval("#preview-messages li", (lis) => lis.map((li) => li.textContent)),
    previewHash: await page.textContent("#content-hash"),
  };
  await page.click("#submit");
  await page.waitForSelector("#result[data-state=accepted]:not([hidden]), #error:not([hidden])");
  output.personal.result = await resultOf(page);
  await shot(page, "6-redacted");
} catch (error) {
  output.failure = String(error?.stack ?? error);
} finally {
  output.pageErrors = pageErrors;
  await context.close();
}
process.stdout.write(JSON.stringify(output));

/** What the result section (or the error line) of the page says. @param {import("playwright-core").Page} page */
async function resultOf(page) {
  if (await page.isVisible("#error")) return { error: await page.textContent("#error") };
  return {
    state: await page.getAttribute("#result", "data-state"),
    id: Number((await page.textContent("#result-id"))?.replace("#", "")),
    contentHash: await page.textContent("#result-hash"),
    cid: await page.textContent("#result-cid"),
    points: await page.textContent("#result-points"),
    receipt: await page.textContent("#receipt-check"),
    proofLink: await page.getAttribute("#proof-link", "href"),
    recordLink: await page.getAttribute("#record-link", "href"),
  };
}
