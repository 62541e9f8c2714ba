// The one stand-in wallet of the browser tests: an EIP-1193 provider put into pages as
// `window.ethereum`, answering from Node with an ethers Wallet of a known key. A wallet extension
// (MetaMask and the like) cannot be installed in the test browser, so this plays its part; it
// says nothing the real one would not.
//
//   await installWalletStandIn(context, { wallet, chainId, calls, only: "/connect" })
//
// `wallet`: an ethers Wallet (connected to a provider, for eth_sendTransaction); `calls`: an array
// that each method called is pushed to; `only`: a path the provider is put into, else every page.

/**
 * @param {import("playwright-core").BrowserContext} context
 * @param {{wallet: import("ethers").Wallet, chainId: number, calls?: string[], only?: string}} options
 */
export async function installWalletStandIn(context, { wallet, chainId, calls = [], only }) {
  await context.exposeBinding("__tallyWalletStandIn", async (_source, method, params) => {
    calls.push(method);
    if (method === "eth_requestAccounts" || method === "eth_accounts") return [wallet.address];
    if (method === "eth_chainId") return `0x${Number(chainId).toString(16)}`;
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
    // @ts-ignore
    globalThis.ethereum = { isStandIn: true, request: ({ method, params }) => call(method, params ?? []) };
  }, only ?? null);
}
