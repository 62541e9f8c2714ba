// Drives the unpacked extension in headless Chromium against a live `tally serve`, through the
// "From an export file" path, signing with the encrypted local key: set the API URL in the
// options; create the local key; paste a conversation, review it, agree, share, read the result;
// paste it again (refused as a duplicate, in words); share one conversation picked out of an
// export file; paste one the API would refuse (refused before signing, with its code); paste one
// holding personal data, see it replaced in the review, share it redacted. (The ChatGPT history
// and the wallet path: extension_history_e2e.mjs.)
// stdin: {chromium, extensionDir, userDataDir, screenshots, api, pasted: {conversation},
//         exportFile, pickIndex, rejected: {conversation}, personal: {conversation}}
// stdout: one JSON object of what the pages showed (tests/clients/test_extension.py checks it).
import { launchWithExtension } from "./extension_browser.mjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const context = await launchWithExtension(input);
// chatgpt.com cannot be reached here; this test does not read the history, so it is not there.
await context.route("https://chatgpt.com/**", (route) => route.abort("internetdisconnected"));
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
  output.historyState = await page.getAttribute("#history-status", "data-state");

  // The local key, encrypted under a passphrase.
  await page.click("button.tab[data-tab=key]");
  await page.fill("#new-passphrase", "a passphrase of mine");
  await page.fill("#new-passphrase-again", "a passphrase of mine");
  await page.click("#create-key");
  await page.waitForSelector("#key-state[data-state=unlocked]", { timeout: 60_000 });
  output.keyState = await page.textContent("#key-state");
  await page.click("button.tab[data-tab=file]");

  /** Paste `conversation`, review it, share it with the local key; what the pages said. */
  const share = async (/** @type {unknown} */ conversation, /** @type {string} */ name) => {
    await page.fill("#paste", JSON.stringify(conversation));
    await page.waitForFunction(() => [...document.querySelectorAll("#file-rows td.points")].some((td) => td.textContent !== "…"));
    return shareSelected(name);
  };
  const shareSelected = async (/** @type {string} */ name) => {
    await page.click("#file-review");
    await page.waitForSelector("#review:not([hidden])");
    const review = await page.$$eval("#review-items > li", (lis) => lis.map((li) => ({
      state: li.getAttribute("data-state"), summary: li.querySelector(".summary")?.textContent ?? null,
      redactions: li.querySelector(".redactions")?.textContent ?? null, note: li.querySelector(".note")?.textContent ?? null,
      messages: [...li.querySelectorAll("details ol li")].map((m) => m.textContent), text: li.textContent })));
    await page.check("#agree");
    await page.check('input[name=signer][value=local]');
    await page.click("#share");
    await page.waitForFunction(() => /accepted|Nothing was shared/.test(document.getElementById("share-status")?.textContent ?? ""));
    const result = {
      review, status: await page.textContent("#share-status"),
      items: await page.$$eval("#share-results li", (lis) => lis.map((li) => ({
        state: li.getAttribute("data-state"), contentHash: li.getAttribute("data-content-hash"), text: li.textContent }))),
    };
    await shot(page, name);
    await page.click("#review-back");
    return result;
  };

  output.accepted = await share(input.pasted.conversation, "2-accepted");
  // The same conversation again: signed with a fresh nonce, refused as a duplicate, in words.
  output.duplicate = await share(input.pasted.conversation, "3-duplicate");

  // One conversation picked out of an export file.
  await page.fill("#paste", "");
  await page.setInputFiles("#file", input.exportFile);
  await page.waitForFunction(() => document.querySelectorAll("#file-rows tr").length === 2);
  output.pickTitles = await page.$$eval("#file-rows .title", (tds) => tds.map((td) => td.textContent));
  await page.locator("#file-rows input[type=checkbox]").nth(input.pickIndex).check();
  output.picked = await shareSelected("4-picked");

  // A conversation the API would refuse is refused before signing, with the same code.
  await page.setInputFiles("#file", []);
  await page.fill("#paste", JSON.stringify(input.rejected.conversation));
  await page.waitForFunction(() => document.querySelector("#file-rows .shared")?.textContent?.startsWith("cannot"));
  output.rejected = { shared: await page.textContent("#file-rows .shared") };
  await page.click("#file-review");
  await page.waitForSelector("#review:not([hidden])");
  output.rejected.review = await page.textContent("#review-items");
  output.rejected.shareDisabled = await page.isDisabled("#share");
  await shot(page, "5-rejected");
  await page.click("#review-back");

  // Personal data: the review says what is replaced and shows the placeholders; that is signed.
  output.personal = await share(input.personal.conversation, "6-redacted");

  await page.click("button.tab[data-tab=mine]");
  await page.waitForFunction(() => document.querySelectorAll("#mine-rows tr[data-status]").length === 3);
  output.receiptsKept = await page.$$eval("#mine-rows tr", (trs) => trs.map((tr) => tr.querySelector(".receipt")?.textContent));
} catch (error) {
  output.failure = String(error?.stack ?? error);
} finally {
  output.pageErrors = pageErrors;
  await context.close();
}
process.stdout.write(JSON.stringify(output));
