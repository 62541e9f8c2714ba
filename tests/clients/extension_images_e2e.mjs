// Plays a contributor sharing ChatGPT conversations with images from the unpacked extension in
// headless Chromium: the history (one conversation with two generated images, one whose uploaded
// photo ChatGPT no longer has, one of text, one whose poster is larger than Tally takes), all four
// selected, the review with its thumbnails, one signature through Tally's /connect page with the
// wallet, the outcome.
//
// Two stand-ins, as nothing else can run here: chatgpt.com and its file storage
// (files.oaiusercontent.com) are answered through request routing from what the test built
// (tests/clients/chatgpt_backend.py: recorded shapes, the test's own image bytes), and the wallet
// is the EIP-1193 provider of tests/js/wallet_stand_in.mjs in the /connect page.
//
// argv[2]: a JSON file of {chromium, extensionDir, userDataDir, screenshots, api, chainId, walletKey,
//           history: {session, items, conversations}, files: {lookups, downloads}}
// stdout: one JSON line, {"event": "done", ...} or {"event": "error", ...}.
import { readFileSync } from "node:fs";
import { launchWithExtension, recordRequests } from "./extension_browser.mjs";
import { Wallet } from "ethers";
import { installWalletStandIn } from "../js/wallet_stand_in.mjs";

const input = JSON.parse(readFileSync(process.argv[2], "utf8"));
const report = (/** @type {string} */ event, /** @type {object} */ data = {}) =>
  process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);

const context = await launchWithExtension(input, { width: 1100, height: 900 });
/** @type {string[]} */
const pageErrors = [];
const requests = recordRequests(context);

// ---- chatgpt.com and its file storage, answered from the recorded shapes --------------------
const TOKEN = input.history.session.accessToken;
const { items, conversations } = input.history;
const { lookups, downloads } = input.files;
/** @type {Record<string, number>} how often each image link was asked for */
const served = {};
/** @param {import("playwright-core").Route} route @param {string} url */
const image = (route, url) => {
  served[url] = (served[url] ?? 0) + 1;
  const data = downloads[url];
  if (!data) return route.fulfill({ status: 404, contentType: "text/plain", body: "Not Found" });
  const body = Buffer.from(data, "base64");
  return route.fulfill({ status: 200, body, headers: { "content-type": "application/octet-stream", "content-length": String(body.length) } });
};
await context.route("https://chatgpt.com/**", async (route) => {
  const url = new URL(route.request().url());
  const json = (/** @type {number} */ status, /** @type {unknown} */ body) =>
    route.fulfill({ status, contentType: "application/json", body: JSON.stringify(body) });
  if (url.pathname === "/api/auth/session") return json(200, input.history.session);
  if ((route.request().headers().authorization ?? "") !== `Bearer ${TOKEN}`) {
    return json(401, { detail: "Could not parse your authentication token. Please try signing in again." });
  }
  if (url.pathname === "/backend-api/conversations") {
    const offset = Number(url.searchParams.get("offset"));
    const limit = Number(url.searchParams.get("limit"));
    return json(200, { items: items.slice(offset, offset + limit), total: items.length, limit, offset,
      has_missing_conversations: false });
  }
  if (url.pathname === "/backend-api/estuary/content") return image(route, url.href);
  const file = url.pathname.match(/^\/backend-api\/files\/download\/([^/]+)$/);
  if (file) return lookups[file[1]] ? json(200, lookups[file[1]]) : json(404, { detail: "File not found" });
  const match = url.pathname.match(/^\/backend-api\/conversation\/([^/]+)$/);
  if (match && conversations[match[1]]) return json(200, conversations[match[1]]);
  return json(404, { detail: "Not found" });
});
await context.route("https://files.oaiusercontent.com/**", (route) => image(route, route.request().url()));

const wallet = new Wallet(input.walletKey);
/** @type {string[]} */
const walletCalls = [];
await installWalletStandIn(context, { wallet, chainId: input.chainId, calls: walletCalls, only: "/connect" });

try {
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent("serviceworker"));
  const base = `chrome-extension://${new URL(worker.url()).host}`;
  const options = await context.newPage();
  await options.goto(`${base}/options.html`);
  await options.fill("#api-url", input.api);
  await options.click("#save");
  await options.waitForFunction(() => document.getElementById("saved")?.textContent?.startsWith("Saved"));
  await options.close();

  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`app: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error" && !/status of 404/.test(m.text())) pageErrors.push(`console: ${m.text()}`); });
  await page.goto(`${base}/app.html`);
  await page.waitForSelector("#history-status[data-state=ready]");
  await page.waitForFunction(() =>
    [...document.querySelectorAll("#history-rows td.points")].every((td) => td.textContent !== "…"));
  const rows = await page.$$eval("#history-rows tr", (trs) => trs.map((tr) => ({
    key: tr.getAttribute("data-key"), points: tr.querySelector(".points")?.textContent,
    shared: tr.querySelector(".shared")?.textContent })));

  // All three, reviewed: the images beside their messages, decoded by the browser.
  await page.check("#select-page");
  await page.click("#history-review");
  await page.waitForSelector("#review:not([hidden])");
  await page.waitForFunction(() => [...document.querySelectorAll("#review-items img.thumb")]
    .every((img) => /** @type {HTMLImageElement} */ (img).complete && /** @type {HTMLImageElement} */ (img).naturalWidth > 0));
  const review = {
    title: await page.textContent("#review-title"),
    total: await page.textContent("#review-total"),
    items: await page.$$eval("#review-items > li", (lis) => lis.map((li) => ({
      key: li.getAttribute("data-key"), state: li.getAttribute("data-state"), text: li.textContent,
      summary: li.querySelector(".summary")?.textContent ?? null,
      messages: [...li.querySelectorAll("details ol > li")].map((m) => ({
        text: m.textContent,
        cids: [...m.querySelectorAll("img.thumb")].map((img) => img.getAttribute("data-cid")),
        thumbnails: [...m.querySelectorAll("img.thumb")].map((img) => ({
          width: /** @type {HTMLImageElement} */ (img).naturalWidth, height: /** @type {HTMLImageElement} */ (img).naturalHeight })),
      })),
    }))),
  };
  await page.screenshot({ path: `${input.screenshots}/10-review-images.png`, fullPage: true });

  // One signature for the two that can be shared.
  await page.check("#agree");
  await page.check('input[name=signer][value=wallet]');
  const opened = context.waitForEvent("page");
  await page.click("#share");
  const connect = await opened;
  connect.on("pageerror", (e) => pageErrors.push(`connect: ${e.message}`));
  await connect.waitForSelector("#connect:not([hidden])");
  await connect.click("#connect");
  await connect.waitForSelector("#what:not([hidden])");
  const closed = connect.waitForEvent("close");
  await connect.click("#sign");
  await closed;
  await page.waitForFunction(() => /accepted|Nothing was shared/.test(document.getElementById("share-status")?.textContent ?? ""),
    undefined, { timeout: 60_000 });
  const shared = {
    status: await page.textContent("#share-status"),
    items: await page.$$eval("#share-results li", (lis) => lis.map((li) => ({ state: li.getAttribute("data-state"), text: li.textContent }))),
  };
  await page.screenshot({ path: `${input.screenshots}/11-shared-images.png`, fullPage: true });

  const fromPages = requests.filter((r) => r.from.startsWith(base) || r.from.startsWith(input.api)).filter((r) => /^https?:/.test(r.url));
  const reads = requests.filter((r) => /^https:\/\/(chatgpt\.com|[^/]+\.oaiusercontent\.com)\//.test(r.url));
  report("done", {
    rows, review, shared, walletCalls, pageErrors,
    hosts: [...new Set(fromPages.map((r) => new URL(r.url).origin))],
    readMethods: [...new Set(reads.map((r) => r.method))],
    posterReads: Object.entries(served).filter(([url]) => url.includes("eeee")).reduce((n, [, count]) => n + count, 0),
    signedLinkAuthorizations: [...new Set(reads.filter((r) => r.url.startsWith("https://files.oaiusercontent.com/")).map((r) => r.authorization))],
  });
} catch (error) {
  report("error", { message: String(/** @type {Error} */ (error).stack ?? error), pageErrors });
} finally {
  await context.close();
}
