// Claims an anchored balance from the contributor page in headless Chromium: the page reads
// what is claimable, the user clicks Claim, the wallet sends TallyRewards.claim, the page shows
// what was paid. The wallet is a stand-in EIP-1193 provider this script injects (a wallet
// extension cannot be installed in this browser): it answers eth_requestAccounts and
// eth_chainId, and signs eth_sendTransaction with a known key, sending it to anvil.
// argv[2]: {baseUrl, address, key, rpcUrl, chainId, artifacts, chromium}; stdout: what the page showed.
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { JsonRpcProvider, Wallet } from "ethers";
import { installWalletStandIn } from "../js/wallet_stand_in.mjs";

const input = JSON.parse(process.argv[2]);
mkdirSync(input.artifacts, { recursive: true });
const wallet = new Wallet(input.key, new JsonRpcProvider(input.rpcUrl, input.chainId, { staticNetwork: true }));
const browser = await chromium.launch({
  executablePath: input.chromium, headless: false,
  args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
const output = { walletCalls: [], consoleErrors: [] };
try {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  context.setDefaultTimeout(30_000);
  await installWalletStandIn(context, { wallet, chainId: input.chainId, calls: output.walletCalls });
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") output.consoleErrors.push(m.text()); });
  await page.goto(`${input.baseUrl}/?address=${input.address}`);
  await page.waitForSelector("body[data-ready=true]");
  await page.waitForSelector("#rewards:not([hidden])");
  output.before = {
    claimed: await page.textContent("#claimed"), claimable: await page.textContent("#claimable"),
    help: await page.textContent("#claim-help"), disabled: await page.isDisabled("#claim"),
  };
  await page.click("#claim");
  await page.waitForSelector("#claim-status[data-state=ok], #claim-status[data-state=failed]", { timeout: 60_000 });
  output.status = { state: await page.getAttribute("#claim-status", "data-state"), text: await page.textContent("#claim-status") };
  await page.waitForFunction(() => document.getElementById("claimable")?.textContent === "0");
  output.after = {
    claimed: await page.textContent("#claimed"), claimable: await page.textContent("#claimable"),
    help: await page.textContent("#claim-help"), disabled: await page.isDisabled("#claim"),
  };
  await page.screenshot({ path: `${input.artifacts}/claimed.png`, fullPage: true });
} catch (error) {
  output.failure = String(error?.stack ?? error);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(output));
