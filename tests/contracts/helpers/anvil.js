// Starts Foundry's anvil (from npm) for the heaviest batches: its EVM runs these eth_calls about
// five times faster than Hardhat's in-process network, which traces every call.
const { spawn } = require("node:child_process");
const net = require("node:net");
const path = require("node:path");
const { ethers } = require("ethers");

// The same binary the dev chain uses (anchoring/devchain.py): TALLY_ANVIL, or the npm package's.
const ANVIL =
  process.env.TALLY_ANVIL || path.resolve(__dirname, "../../../node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startAnvil() {
  const port = await freePort();
  const child = spawn(ANVIL, ["--host", "127.0.0.1", "--port", String(port), "--silent", "--disable-block-gas-limit"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const url = `http://127.0.0.1:${port}`;
  let chainId;
  for (let attempt = 0; chainId === undefined; attempt++) {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      chainId = BigInt((await response.json()).result);
    } catch (error) {
      if (attempt > 200 || child.exitCode !== null) {
        child.kill();
        throw new Error(`anvil did not start on ${url}: ${error.message}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const provider = new ethers.JsonRpcProvider(url, undefined, {
    staticNetwork: ethers.Network.from(chainId),
    batchMaxCount: 1,
  });
  return {
    url,
    provider,
    async stop() {
      provider.destroy();
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

module.exports = { startAnvil, ANVIL };
