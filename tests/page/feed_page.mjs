// Drives the feed page (/feed) in headless Chromium (Debian's, through playwright-core): for each
// wallet key in turn, a fresh browser context whose `window.ethereum` is a stand-in EIP-1193
// provider (a wallet extension cannot be installed here) that signs eth_signTypedData_v4 with
// ethers in Node; the card of the contribution is found and its Like button clicked, and what the
// card then says is recorded. Called by tests/page/test_feed_page.py with a JSON argument; prints
// what it saw as JSON on stdout and exits 1 on an error.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Wallet } from "ethers";
import { installWalletStandIn } from "../js/wallet_stand_in.mjs";
import { chromium } from "playwright-core";

const input = JSON.parse(process.argv[2]);
mkdirSync(input.artifacts, { recursive: true });
const output = { likes: [], consoleErrors: [], walletCalls: [] };
const browser = await chromium.launch({
  executablePath: input.chromium,
  args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  for (const [n, key] of input.walletKeys.entries()) {
    const wallet = new Wallet(key);
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    await installWalletStandIn(context, { wallet, chainId: 31337, calls: output.walletCalls });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    page.on("console", (m) => { if (m.type() === "error") output.consoleErrors.push(m.text()); });
    page.on("pageerror", (e) => output.consoleErrors.push(`uncaught: ${e.message}`));
    await page.goto(`${input.baseUrl}/feed`);
    await page.waitForSelector("body[data-loaded='true']");
    const card = page.locator(`li[data-id='${input.contributionId}']`);
    // Its images rendered: fetched, decoded, drawn (not a broken-image box).
    await page.waitForFunction(() => [...document.images].length > 0
      && [...document.images].every((i) => i.complete && i.naturalWidth > 0));
    const images = await card.locator("img").evaluateAll((imgs) => imgs.map((i) => ({
      src: i.getAttribute("src"), width: /** @type {HTMLImageElement} */ (i).naturalWidth,
      height: /** @type {HTMLImageElement} */ (i).naturalHeight })));
    const before = await card.locator(".feed-likes").textContent();
    await card.locator("button.feed-like").click();
    const status = card.locator(".feed-status");
    await page.waitForFunction((el) => el && el.textContent !== "", await status.elementHandle());
    output.likes.push({
      address: wallet.address, before: Number(before), after: Number(await card.locator(".feed-likes").textContent()),
      status: await status.textContent(), creator: await card.locator(".feed-creator").getAttribute("title"),
      proofHref: await card.locator("a.feed-proof").getAttribute("href"),
      preview: await card.locator(".feed-preview").textContent(), images,
    });
    const shot = join(input.artifacts, `feed-like-${n}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    await context.close();
  }
} catch (error) {
  output.error = String(error?.stack ?? error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(output));
