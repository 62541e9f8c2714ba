// Chromium with the unpacked extension loaded, as every extension test starts it, and the log of
// the requests its pages send.
import { chromium } from "playwright-core";

/**
 * A persistent headless Chromium context with the extension at `extensionDir` loaded.
 * @param {{chromium: string, userDataDir: string, extensionDir: string}} input
 * @param {{width: number, height: number} | undefined} [viewport]
 */
export async function launchWithExtension(input, viewport) {
  const context = await chromium.launchPersistentContext(input.userDataDir, {
    executablePath: input.chromium,
    headless: false, // headless comes from --headless=new below, as Playwright's own flag differs
    ignoreDefaultArgs: ["--disable-extensions"],
    ...(viewport ? { viewport } : {}),
    args: [
      "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run",
      `--disable-extensions-except=${input.extensionDir}`, `--load-extension=${input.extensionDir}`,
    ],
  });
  context.setDefaultTimeout(30_000);
  return context;
}

/**
 * Every request the context sends, with the URL of the frame that sent it ("" for a service
 * worker's, or a navigation's without a frame yet) and its Authorization header.
 * @param {import("playwright-core").BrowserContext} context
 * @returns {Array<{url: string, method: string, from: string, authorization: string}>}
 */
export function recordRequests(context) {
  /** @type {Array<{url: string, method: string, from: string, authorization: string}>} */
  const requests = [];
  context.on("request", (request) => {
    let from = "";
    // A service worker's request has no frame, and a navigation's may have none yet: both throw.
    try { from = request.frame().url(); } catch { from = ""; }
    requests.push({ url: request.url(), method: request.method(), from,
      authorization: request.headers().authorization ?? "" });
  });
  return requests;
}
