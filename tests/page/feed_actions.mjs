// Drives the feed page's contributor actions in headless Chromium (Debian's, through
// playwright-core), each browser context with the stand-in wallet (tests/js/wallet_stand_in.mjs:
// a wallet extension cannot be installed here) of one key. Phase "engage": the creator connects,
// publishes one of its unpublished contributions from "Your unpublished contributions"; another
// address remixes it from its card with a contribution of its own, picked from the list (on a
// phone-sized screen); the creator's own remix and like are refused. Phase "withdraw": the creator's
// wallet switches to the other address, disconnects and comes back, the page following each time;
// the creator then withdraws it from its card. Called by tests/page/test_feed_actions.py with a JSON argument;
// prints what it saw as JSON on stdout and exits 1 on an error.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Wallet } from "ethers";
import { installWalletStandIn } from "../js/wallet_stand_in.mjs";
import { chromium } from "playwright-core";

const input = JSON.parse(process.argv[2]);
mkdirSync(input.artifacts, { recursive: true });
const output = { consoleErrors: [], walletCalls: [] };
const PHONE = { width: 375, height: 812 };
const DESKTOP = { width: 1100, height: 900 };

const browser = await chromium.launch({
  executablePath: input.chromium,
  args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});

/** A page of /feed in a fresh context whose wallet holds `key`, loaded. */
async function feedAs(key, viewport) {
  const context = await browser.newContext({ viewport });
  const standIn = await installWalletStandIn(context, { wallet: new Wallet(key), chainId: 31337,
                                                       calls: output.walletCalls });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on("console", (m) => { if (m.type() === "error") output.consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => output.consoleErrors.push(`uncaught: ${e.message}`));
  await page.goto(`${input.baseUrl}/feed`);
  await page.waitForSelector("body[data-loaded='true']");
  return { context, page, standIn };
}

const cardOf = (page, id) => page.locator(`#feed li[data-id='${id}']`);

/** The card's status line once it says something other than `before`. */
async function statusAfter(page, id, before = "") {
  const status = cardOf(page, id).locator(".feed-status");
  await page.waitForFunction(([el, old]) => el && el.textContent !== "" && el.textContent !== old,
    [await status.elementHandle(), before]);
  return status.textContent();
}

async function connect(page) {
  await page.locator("#connect").click();
  await page.waitForSelector("#mine:not([hidden])");
}

const unpublished = (page) => page.locator("#mine-list li").evaluateAll((rows) => rows.map((r) => Number(r.dataset.id)));
const widest = (page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

async function engagePhase() {
  // The creator publishes from the list of its unpublished contributions.
  let { context, page } = await feedAs(input.creatorKey, DESKTOP);
  output.feedBefore = await page.locator("#feed > li").count();
  output.withdrawBeforeConnect = await page.locator(".feed-withdraw").count();
  await connect(page);
  output.account = await page.locator("#account").textContent();
  output.unpublishedBefore = await unpublished(page);
  await page.locator(`#mine-list li[data-id='${input.mine}'] button.mine-publish`).click();
  await cardOf(page, input.mine).waitFor();
  await page.waitForFunction((id) => !document.querySelector(`#mine-list li[data-id='${id}']`), input.mine);
  output.published = {
    notice: await page.locator("#feed-notice").textContent(),
    unpublishedAfter: await unpublished(page),
    withdrawOnCard: await cardOf(page, input.mine).locator("button.feed-withdraw").count(),
    creator: await cardOf(page, input.mine).locator(".feed-creator").getAttribute("title"),
  };
  await page.screenshot({ path: join(input.artifacts, "feed-actions-published.png"), fullPage: true });
  await context.close();

  // Another address, on a phone: Remix, pick its own contribution, sign.
  ({ context, page } = await feedAs(input.fanKey, PHONE));
  const card = cardOf(page, input.mine);
  await card.locator("button.feed-remix-open").click();
  const pick = card.locator("select.feed-remix-pick");
  await card.locator("form.feed-remix:not([hidden])").waitFor();
  output.remix = {
    choices: await pick.locator("option").evaluateAll((os) => os.map((o) => o.getAttribute("value"))),
    withdrawOnOthersCard: await card.locator("button.feed-withdraw").count(),
    before: Number(await card.locator(".feed-remixes").textContent()),
  };
  // A pasted contentHash wins over the pick: a malformed one is refused before signing, someone
  // else's contribution by the API.
  const paste = card.locator("input.feed-remix-hash");
  await paste.fill("0x12");
  await card.locator("button.feed-remix-sign").click();
  output.remix.malformed = await statusAfter(page, input.mine);
  await paste.fill(input.spareContentHash);
  await card.locator("button.feed-remix-sign").click();
  output.remix.notTheirs = await statusAfter(page, input.mine, output.remix.malformed);
  await paste.fill("");
  await pick.selectOption(input.fanContentHash);
  output.remix.overflowWithForm = await widest(page);
  await page.screenshot({ path: join(input.artifacts, "feed-actions-remix-phone.png"), fullPage: true });
  await card.locator("button.feed-remix-sign").click();
  output.remix.status = await statusAfter(page, input.mine, output.remix.notTheirs);
  output.remix.after = Number(await card.locator(".feed-remixes").textContent());
  output.remix.formHidden = await card.locator("form.feed-remix").isHidden();
  await context.close();

  // The creator again: its own remix and like are refused, in words on the card.
  ({ context, page } = await feedAs(input.creatorKey, PHONE));
  await connect(page);
  const own = cardOf(page, input.mine);
  await own.locator("button.feed-withdraw").waitFor();
  await own.locator("button.feed-remix-open").click();
  await own.locator("select.feed-remix-pick").selectOption(input.spareContentHash);
  await own.locator("button.feed-remix-sign").click();
  const remixRefused = await statusAfter(page, input.mine);
  await own.locator("button.feed-like").click();
  output.own = { remix: remixRefused, like: await statusAfter(page, input.mine, remixRefused),
                 remixes: Number(await own.locator(".feed-remixes").textContent()),
                 likes: Number(await own.locator(".feed-likes").textContent()),
                 overflow: await widest(page) };
  await page.screenshot({ path: join(input.artifacts, "feed-actions-own-phone.png"), fullPage: true });
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: join(input.artifacts, "feed-actions-own.png"), fullPage: true });
  await context.close();
}

/** What the page shows as the connected account, once it shows `words`. */
async function accountShown(page, words) {
  await page.waitForFunction((w) => document.getElementById("account").textContent === w, words);
  return { account: await page.locator("#account").textContent(), unpublished: await unpublished(page),
           withdrawOnCard: await cardOf(page, input.mine).locator("button.feed-withdraw").count() };
}

async function withdrawPhase() {
  let { context, page, standIn } = await feedAs(input.creatorKey, DESKTOP);
  await connect(page);
  const card = cardOf(page, input.mine);
  await card.locator("button.feed-withdraw").waitFor();
  // The wallet's user switches to another account, disconnects, then comes back: the page follows.
  const fan = new Wallet(input.fanKey);
  await standIn.switchTo(page, fan);
  output.switched = await accountShown(page, `Connected: ${fan.address}`);
  await standIn.switchTo(page, null);
  await page.waitForSelector("#connect:not([hidden])");
  output.disconnected = { mineHidden: await page.locator("#mine").isHidden(),
                          accountHidden: await page.locator("#account").isHidden(),
                          withdrawOnCard: await card.locator("button.feed-withdraw").count() };
  const creator = new Wallet(input.creatorKey);
  await standIn.switchTo(page, creator);
  output.back = await accountShown(page, `Connected: ${creator.address}`);
  await card.locator("button.feed-withdraw").click();
  await card.waitFor({ state: "detached" });
  await page.waitForFunction((id) => document.querySelector(`#mine-list li[data-id='${id}']`), input.mine);
  output.withdrawn = { notice: await page.locator("#feed-notice").textContent(), unpublished: await unpublished(page) };
  await context.close();
  ({ context, page } = await feedAs(input.fanKey, DESKTOP));
  output.withdrawn.cardsAfterReload = await page.locator("#feed > li").evaluateAll(
    (cards) => cards.map((c) => Number(c.dataset.id)));
  await context.close();
}

try {
  await (input.phase === "engage" ? engagePhase() : withdrawPhase());
} catch (error) {
  output.error = String(error?.stack ?? error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(output));
