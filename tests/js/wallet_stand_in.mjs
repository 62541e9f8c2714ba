// The one stand-in wallet of the browser tests: an EIP-1193 provider put into pages as
// `window.ethereum`, answering from Node with an ethers Wallet of a known key. A wallet extension
// (MetaMask and the like) cannot be installed in the test browser, so this plays its part; it
// says nothing the real one would not.
//
//   const standIn = await installWalletStandIn(context, { wallet, chainId, calls, only: "/connect" })
//   await standIn.listening(page)               // the page listens for account changes
//   await standIn.switchTo(page, otherWallet)   // the user picks another account (or null: disconnects)
//
// `wallet`: an ethers Wallet (connected to a provider, for eth_sendTransaction), or `{address}`
// for a page that only asks for the account (anything it would sign is refused); `calls`: an
// array that each method called is pushed to; `only`: a path the provider is put into, else every
// page; `lowercase`: share addresses in lower case, as MetaMask does (else checksummed).
// `switchTo` answers with the new account from then on and emits EIP-1193 `accountsChanged` in
// the page, as a wallet does when its user switches accounts.

/** @typedef {import("ethers").Wallet | {address: string}} Account */

/**
 * @param {import("playwright-core").BrowserContext} context
 * @param {{wallet: Account, chainId: number, calls?: string[], only?: string, lowercase?: boolean}} options
 */
export async function installWalletStandIn(context, { wallet: first, chainId, calls = [], only, lowercase = false }) {
  /** @type {Account | null} */
  let wallet = first;
  const shared = (/** @type {Account | null} */ account) =>
    account ? [lowercase ? account.address.toLowerCase() : account.address] : [];
  await context.exposeBinding("__tallyWalletStandIn", async (_source, method, params) => {
    calls.push(method);
    if (method === "eth_requestAccounts" || method === "eth_accounts") return shared(wallet);
    if (method === "eth_chainId") return `0x${Number(chainId).toString(16)}`;
    if (!wallet) throw new Error("no account is connected");
    if (!("signTypedData" in wallet)) throw new Error(`method ${method} not supported: this account only shares its address`);
    if (method === "eth_signTypedData_v4") {
      const [address, json] = params;
      if (address.toLowerCase() !== wallet.address.toLowerCase()) throw new Error("unknown account");
      const { domain, types, message } = JSON.parse(json);
      const { EIP712Domain: _, ...rest } = types;
      return wallet.signTypedData(domain, rest, message);
    }
    if (method === "eth_sendTransaction") {
      const [tx] = params;
      if (String(tx.from).toLowerCase() !== wallet.address.toLowerCase()) throw new Error("unknown account");
      return (await wallet.sendTransaction({ to: tx.to, data: tx.data })).hash;
    }
    throw new Error(`method ${method} not supported`);
  });
  await context.addInitScript((path) => {
    if (path && location.pathname !== path) return;
    // @ts-ignore the binding above
    const call = globalThis.__tallyWalletStandIn;
    /** @type {Map<string, Set<Function>>} */
    const listeners = new Map();
    const of = (/** @type {string} */ event) => listeners.get(event) ?? listeners.set(event, new Set()).get(event);
    // @ts-ignore
    globalThis.ethereum = {
      isStandIn: true,
      request: ({ method, params }) => call(method, params ?? []),
      on: (event, listener) => { of(event).add(listener); },
      removeListener: (event, listener) => { of(event).delete(listener); },
      __emit: (event, value) => { for (const listener of of(event)) listener(value); },
      __listeners: (event) => of(event).size,
    };
  }, only ?? null);
  return {
    /** Wait until the page listens for `accountsChanged`. */
    async listening(/** @type {import("playwright-core").Page} */ page) {
      // @ts-ignore the provider above
      await page.waitForFunction(() => globalThis.ethereum.__listeners("accountsChanged") > 0);
    },
    /** Answer with `next` from now on (null: no account) and tell the page, as a wallet does. */
    async switchTo(/** @type {import("playwright-core").Page} */ page, /** @type {Account | null} */ next) {
      wallet = next;
      // @ts-ignore the provider above
      await page.evaluate((accounts) => globalThis.ethereum.__emit("accountsChanged", accounts), shared(next));
    },
  };
}
