// Plays a contributor using the unpacked extension in headless Chromium: their ChatGPT history
// (30 conversations over two pages), a selection of 10 signed once with their wallet through
// Tally's /connect page, a second selection holding one already shared, an export file signed
// with the encrypted local key, then, once the test has sealed and anchored, "My contributions"
// final and verified against the chain.
//
// Two stand-ins, as nothing else can run here: chatgpt.com is answered through request routing
// from the history the test built (tests/clients/chatgpt_backend.py, recorded shapes), and the
// wallet is an EIP-1193 provider this script injects into the /connect page, signing with a known
// key (a wallet extension cannot be installed in this browser).
//
// argv[2]: a JSON file of {chromium, extensionDir, userDataDir, screenshots, api, deadApi, rpcUrl, chainId,
//           history: {session, items, conversations}, walletKey, exportFile, exportCount}
// stdout: one JSON line per event; stdin: one line from the test to go on where it must act.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { launchWithExtension, recordRequests } from "./extension_browser.mjs";
import { Wallet } from "ethers";
import { installWalletStandIn } from "../js/wallet_stand_in.mjs";

const input = JSON.parse(readFileSync(process.argv[2], "utf8"));
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const report = (/** @type {string} */ event, /** @type {object} */ data = {}) =>
  process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);
const waitFor = async (/** @type {string} */ word) => {
  const { value } = await lines.next();
  if (value?.trim() !== word) throw new Error(`expected "${word}" from the test, got ${JSON.stringify(value)}`);
};

const context = await launchWithExtension(input, { width: 1100, height: 900 });
/** @type {string[]} */
const pageErrors = [];
const requests = recordRequests(context);

// ---- chatgpt.com, answered from the recorded shapes ----------------------------------------
const chatgpt = {
  mode: "logged-out",           // logged-out | expired | ok
  token: "stand-in-access-token-1",
  rotateAfter: 12,              // backend calls after which token 1 expires (a session refresh follows)
  backendCalls: 0,
  rateLimitOnce: new Set(["offset=20"]),
  /** @type {string[]} */
  authorizations: [],
  seen429: 0,
};
const { items, conversations } = input.history;
await context.route("https://chatgpt.com/**", async (route) => {
  const url = new URL(route.request().url());
  const json = (/** @type {number} */ status, /** @type {unknown} */ body, headers = {}) =>
    route.fulfill({ status, contentType: "application/json", body: JSON.stringify(body), headers });
  if (url.pathname === "/api/auth/session") {
    if (chatgpt.mode === "logged-out") return json(200, {});
    return json(200, { ...input.history.session, accessToken: chatgpt.token });
  }
  chatgpt.backendCalls += 1;
  const auth = route.request().headers().authorization ?? "";
  chatgpt.authorizations.push(auth);
  if (chatgpt.mode === "ok" && chatgpt.backendCalls === chatgpt.rotateAfter) chatgpt.token = "stand-in-access-token-2";
  if (chatgpt.mode === "expired" || auth !== `Bearer ${chatgpt.token}`) {
    return json(401, { detail: "Could not parse your authentication token. Please try signing in again." });
  }
  if (url.pathname === "/backend-api/conversations") {
    const offset = Number(url.searchParams.get("offset"));
    const limit = Number(url.searchParams.get("limit"));
    const key = `offset=${offset}`;
    if (chatgpt.rateLimitOnce.delete(key)) {
      chatgpt.seen429 += 1;
      return json(429, { detail: "Too many requests" }, { "retry-after": "1" });
    }
    return json(200, { items: items.slice(offset, offset + limit), total: items.length, limit, offset,
      has_missing_conversations: false });
  }
  const match = url.pathname.match(/^\/backend-api\/conversation\/([^/]+)$/);
  if (match && conversations[match[1]]) return json(200, conversations[match[1]]);
  return json(404, { detail: "Not found" });
});

// ---- the wallet stand-in: an EIP-1193 provider in the /connect page -------------------------
const wallet = new Wallet(input.walletKey);
/** @type {string[]} */
const walletCalls = [];
await installWalletStandIn(context, { wallet, chainId: input.chainId, calls: walletCalls, only: "/connect" });

const output = {};
try {
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent("serviceworker"));
  const base = `chrome-extension://${new URL(worker.url()).host}`;
  const shot = (/** @type {import("playwright-core").Page} */ page, /** @type {string} */ name) =>
    page.screenshot({ path: `${input.screenshots}/${name}.png`, fullPage: true });

  const setApi = async (/** @type {string} */ api) => {
    const options = await context.newPage();
    await options.goto(`${base}/options.html`);
    await options.fill("#api-url", api);
    await options.click("#save");
    await options.waitForFunction(() => document.getElementById("saved")?.textContent?.startsWith("Saved"));
    await options.close();
  };

  // Tally unreachable.
  await setApi(input.deadApi);
  let page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`app: ${e.message}`));
  await page.goto(`${base}/app.html`);
  await page.waitForSelector("body[data-ready=true]");
  output.unreachable = await page.textContent("#api-status");
  await page.close();

  // Not logged in to ChatGPT, then a session whose token is refused.
  await setApi(input.api);
  page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`app: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error" && !/status of (404|401|429)/.test(m.text())) pageErrors.push(`console: ${m.text()}`); });
  await page.goto(`${base}/app.html`);
  await page.waitForSelector("#history-status[data-state=logged-out]");
  output.loggedOut = await page.textContent("#history-status");
  await shot(page, "2-not-logged-in");
  chatgpt.mode = "expired";
  await page.click("#history-retry");
  await page.waitForSelector("#history-status[data-state=expired]");
  output.expired = await page.textContent("#history-status");

  // The history: 20 rows, each estimated and looked up.
  chatgpt.mode = "ok";
  await page.click("#history-retry");
  await page.waitForSelector("#history-status[data-state=ready]");
  const settled = () => page.waitForFunction(() =>
    [...document.querySelectorAll("#history-rows td.points")].every((td) => td.textContent !== "…"));
  await settled();
  const rows = async () => page.$$eval("#history-rows tr", (trs) => trs.map((tr) => ({
    key: tr.getAttribute("data-key"),
    title: tr.querySelector(".title")?.textContent,
    points: tr.querySelector(".points")?.textContent,
    shared: tr.querySelector(".shared")?.textContent,
  })));
  output.page1 = { status: await page.textContent("#history-status"), label: await page.textContent("#page-label"), rows: await rows() };
  await shot(page, "3-history");
  const tick = async (/** @type {number} */ n) => {
    const boxes = await page.$$("#history-rows input[type=checkbox]");
    for (const box of boxes.slice(0, n)) await box.check();
  };
  await tick(7);

  // Page 2: ChatGPT rate-limits the list once; the page says so and retries.
  await page.click("#next");
  await page.waitForSelector("#history-status[data-state=rate-limited]");
  output.rateLimited = await page.textContent("#history-status");
  await page.waitForSelector("#history-status[data-state=ready]");
  await settled();
  output.page2 = { label: await page.textContent("#page-label"), rows: await rows() };
  await tick(3);
  output.selectedCount = await page.textContent("#history-selected");

  // Search by title, across pages.
  const wanted = /** @type {string} */ (items[25].title);
  await page.fill("#search", wanted);
  await page.waitForFunction((w) => document.getElementById("history-status")?.textContent?.includes(w), wanted);
  output.search = { status: await page.textContent("#history-status"), rows: await rows() };
  await page.fill("#search", "");
  await page.waitForFunction(() => document.getElementById("history-status")?.textContent?.includes("conversations in your"));
  await settled();

  // Review the 10, then sign once with the wallet.
  const review = async () => {
    await page.click("#history-review");
    await page.waitForSelector("#review:not([hidden])");
    return {
      title: await page.textContent("#review-title"),
      total: await page.textContent("#review-total"),
      items: await page.$$eval("#review-items > li", (lis) => lis.map((li) => ({
        key: li.getAttribute("data-key"), state: li.getAttribute("data-state"),
        summary: li.querySelector(".summary")?.textContent, redactions: li.querySelector(".redactions")?.textContent,
        note: li.querySelector(".note")?.textContent ?? null,
        shared: [...li.querySelectorAll("details ol li")].map((m) => m.textContent),
      }))),
    };
  };
  const shareWithWallet = async (/** @type {string} */ shotName) => {
    await page.check("#agree");
    await page.check('input[name=signer][value=wallet]');
    const opened = context.waitForEvent("page");
    await page.click("#share");
    const connect = await opened;
    process.stderr.write(`opened ${connect.url()}\n`);
    connect.on("close", () => process.stderr.write(`closed ${connect.url()}\n`));
    connect.on("console", (m) => process.stderr.write(`connect console: ${m.text()}\n`));
    connect.on("pageerror", (e) => pageErrors.push(`connect: ${e.message}`));
    await connect.waitForSelector("#connect:not([hidden])");
    const summary = await connect.textContent("#summary");
    await connect.click("#connect");
    await connect.waitForSelector("#what:not([hidden])");
    const fields = await connect.$$eval("#fields dt", (dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]));
    if (shotName) await shot(connect, shotName);
    const closed = connect.waitForEvent("close");
    await connect.click("#sign");
    await closed;
    return { summary, fields, url: connect.url() };
  };
  const results = async () => {
    await page.waitForFunction(() => /accepted|Nothing was shared/.test(document.getElementById("share-status")?.textContent ?? ""));
    return {
      status: await page.textContent("#share-status"),
      items: await page.$$eval("#share-results li", (lis) => lis.map((li) => ({
        state: li.getAttribute("data-state"), contentHash: li.getAttribute("data-content-hash"), text: li.textContent }))),
    };
  };
  output.review1 = await review();
  await shot(page, "4-review");
  output.connect1 = await shareWithWallet("5-connect");
  output.shared1 = await results();
  await shot(page, "6-shared");

  // A second selection: two new ones and one shared already.
  await page.click("#review-back");
  await page.waitForSelector("#tab-history:not([hidden])");
  await settled();
  output.marks = await rows();
  output.selectedAfter = await page.textContent("#history-selected");
  // Locators, found again at each step: rows are redrawn as their marks change.
  const all = page.locator("#history-rows input[type=checkbox]");
  for (let i = 0; i < (await all.count()); i += 1) if (await all.nth(i).isChecked()) await all.nth(i).uncheck();
  const unshared = page.locator("#history-rows tr[data-shared=false] input[type=checkbox]:not(:checked)");
  await unshared.first().check();
  await unshared.first().check();
  await page.locator("#history-rows tr[data-shared=true] input[type=checkbox]").first().check();
  output.review2 = await review();
  output.connect2 = await shareWithWallet("");
  output.shared2 = await results();

  // The export file, signed with the encrypted local key.
  await page.click("#review-back");
  await page.click("button.tab[data-tab=key]");
  await page.waitForSelector("#key-state[data-state=none]");
  await page.fill("#new-passphrase", "short");
  await page.fill("#new-passphrase-again", "short");
  await page.click("#create-key");
  await page.waitForSelector("#key-error:not([hidden])");
  output.shortPassphrase = await page.textContent("#key-error");
  await page.fill("#new-passphrase", "correct horse battery staple");
  await page.fill("#new-passphrase-again", "correct horse battery staple");
  await page.click("#create-key");
  await page.waitForSelector("#key-state[data-state=unlocked]", { timeout: 60_000 });
  output.keyState = await page.textContent("#key-state");
  await shot(page, "7-keys");
  await page.click("button.tab[data-tab=file]");
  await page.setInputFiles("#file", input.exportFile);
  await page.waitForFunction((n) => document.querySelectorAll("#file-rows tr").length === n, input.exportCount);
  await page.waitForFunction(() => [...document.querySelectorAll("#file-rows td.points")].every((td) => td.textContent !== "…"));
  await page.check("#select-file");
  await page.click("#file-review");
  await page.waitForSelector("#review:not([hidden])");
  output.review3 = {
    title: await page.textContent("#review-title"),
    items: await page.$$eval("#review-items > li", (lis) => lis.map((li) => ({ state: li.getAttribute("data-state"), text: li.textContent }))),
  };
  await page.check("#agree");
  await page.check('input[name=signer][value=local]');
  await page.click("#share");
  output.shared3 = await results();
  output.storage = await page.evaluate(async () => ({
    local: await chrome.storage.local.get(null), session: await chrome.storage.session.get(null) }));

  // The test seals and anchors; then every contribution is final and verifies against the chain.
  report("shared", { output });
  await waitFor("anchored");
  await page.click("button.tab[data-tab=mine]");
  await page.click("#mine-refresh");
  await page.waitForFunction(() => {
    const trs = [...document.querySelectorAll("#mine-rows tr")];
    return trs.length > 0 && trs.every((tr) => tr.getAttribute("data-status") === "final");
  });
  const verifyButtons = page.locator("#mine-rows button");
  for (let i = 0; i < (await verifyButtons.count()); i += 1) await verifyButtons.nth(i).click();
  await page.waitForFunction(() => [...document.querySelectorAll("#mine-rows .verify-result")]
    .every((p) => p.getAttribute("data-state") === "ok" || p.getAttribute("data-state") === "failed"), undefined, { timeout: 90_000 });
  const mine = await page.$$eval("#mine-rows tr", (trs) => trs.map((tr) => ({
    id: Number(tr.getAttribute("data-contribution-id")), status: tr.getAttribute("data-status"),
    statusText: tr.querySelector(".status")?.textContent, receipt: tr.querySelector(".receipt")?.textContent,
    verify: tr.querySelector(".verify-result")?.getAttribute("data-state"), verifyText: tr.querySelector(".verify-result")?.textContent,
  })));
  await shot(page, "8-my-contributions");

  // The local key after a browser restart would be locked: the session is cleared by locking.
  await page.click("button.tab[data-tab=key]");
  await page.click("#lock-key");
  await page.waitForSelector("#key-state[data-state=locked]");
  await page.fill("#passphrase", "not the passphrase");
  await page.click("#unlock-key");
  await page.waitForSelector("#key-error:not([hidden])", { timeout: 60_000 });
  const wrong = await page.textContent("#key-error");
  await page.fill("#passphrase", "correct horse battery staple");
  await page.click("#unlock-key");
  await page.waitForSelector("#key-state[data-state=unlocked]", { timeout: 60_000 });

  // Export the keystore (the encrypted file, nothing else), then import it back: explicit steps.
  await page.click("#tab-key details summary");
  await page.click("#export-key");
  await page.waitForSelector("#export-link:not([hidden])");
  const downloading = page.waitForEvent("download");
  await page.click("#export-link");
  const download = await downloading;
  const exported = `${input.screenshots}/exported-keystore.json`;
  await download.saveAs(exported);
  await page.setInputFiles("#import-file", exported);
  await page.fill("#import-passphrase", "not the passphrase");
  await page.click("#import-key");
  await page.waitForFunction(() => /does not open/.test(document.getElementById("key-error")?.textContent ?? ""), undefined, { timeout: 60_000 });
  const importWrong = await page.textContent("#key-error");
  await page.click("#lock-key");
  await page.waitForSelector("#key-state[data-state=locked]");
  await page.fill("#import-passphrase", "correct horse battery staple");
  await page.click("#import-key");
  await page.waitForSelector("#key-state[data-state=unlocked]", { timeout: 60_000 });
  const keystore = { file: download.suggestedFilename(), json: readFileSync(exported, "utf8"),
    importWrong, state: await page.textContent("#key-state") };

  // Where the extension's pages and the /connect page sent requests (blob: and data: URLs stay in the page).
  const hosts = [...new Set(requests.filter((r) => r.from.startsWith(base) || r.from.startsWith(input.api))
    .filter((r) => /^https?:/.test(r.url)).map((r) => new URL(r.url).origin))];
  report("done", {
    mine, wrongPassphrase: wrong, keystore, hosts, walletCalls,
    chatgptMethods: [...new Set(requests.filter((r) => r.url.startsWith("https://chatgpt.com")).map((r) => r.method))],
    authorizations: [...new Set(chatgpt.authorizations)], seen429: chatgpt.seen429, pageErrors,
  });
} catch (error) {
  report("error", { message: String(/** @type {Error} */ (error).stack ?? error), output, pageErrors });
} finally {
  await context.close();
}
