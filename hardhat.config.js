// Hardhat 2 configuration. Kept in JavaScript: the toolbox pulls a TypeScript that breaks .ts configs.
require("@nomicfoundation/hardhat-toolbox");

const fs = require("node:fs");
const path = require("node:path");
const { extendEnvironment, subtask, task } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

// The one compiler version of the project. It must equal the exact version pinned in package.json,
// because the machines are offline and Hardhat cannot download any other.
const SOLC_VERSION = "0.8.28";

// Hardhat downloads solc from the internet by default; point it at the solcjs build that npm
// installed instead, so compiling never needs the network.
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async ({ solcVersion }) => {
  const solc = require("solc");
  const longVersion = solc.version().replace(/\.Emscripten\.clang$/, "");
  const npmVersion = longVersion.split("+")[0];
  if (solcVersion !== npmVersion) {
    throw new Error(
      `hardhat.config.js asks for solc ${solcVersion} but npm installed solc ${npmVersion}; ` +
        "pin the same version in both places"
    );
  }
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: solcVersion,
    longVersion,
  };
});

// The compiled contracts, committed inside the Python package so that running Tally needs no Node.
// TallyAnchor first: `hre.tallyArtifact` is its entry.
const ARTIFACT_DIR = path.join(__dirname, "anchoring", "artifacts");
const CONTRACTS = ["TallyAnchor", "TallyRewards", "TallyPoints"].map((name) => ({
  name,
  fqn: `contracts/${name}.sol:${name}`,
  path: path.join(ARTIFACT_DIR, `${name}.json`),
}));

/** Everything a deployer and a source verifier need, from Hardhat's build of one contract. */
async function contractArtifact(hre, fqn) {
  await hre.run("compile", { quiet: true });
  const buildInfo = await hre.artifacts.getBuildInfo(fqn);
  const [sourceName, contractName] = fqn.split(":");
  const output = buildInfo.output.contracts[sourceName][contractName];
  const metadata = JSON.parse(output.metadata);
  // Python deploys the bytecode as it is: nothing may need linking at deployment.
  const links = Object.keys(output.evm.bytecode.linkReferences ?? {}).length;
  if (links) throw new Error(`${contractName} needs linking`);
  // Immutables are written into the runtime code by the constructor; the artifact says where, so
  // that Python can compare deployed code with the rest (anchoring.artifact).
  const immutables = Object.values(output.evm.deployedBytecode.immutableReferences ?? {})
    .flat()
    .map(({ start, length }) => ({ start, length }))
    .sort((a, b) => a.start - b.start);
  // Only the sources this contract's metadata names (not the test harness Hardhat compiled
  // alongside): this is what Etherscan, Blockscout and Sourcify take as "standard JSON input".
  const standardJsonInput = {
    language: "Solidity",
    sources: Object.fromEntries(
      Object.keys(metadata.sources)
        .sort()
        .map((name) => [name, { content: buildInfo.input.sources[name].content }])
    ),
    settings: {
      ...buildInfo.input.settings,
      outputSelection: { "*": { "*": ["abi", "evm.bytecode", "evm.deployedBytecode", "metadata"] } },
    },
  };
  return {
    _format: "tally-contract-artifact-1",
    contractName,
    sourceName,
    compiler: { version: buildInfo.solcVersion, longVersion: buildInfo.solcLongVersion },
    abi: output.abi,
    bytecode: `0x${output.evm.bytecode.object}`,
    deployedBytecode: `0x${output.evm.deployedBytecode.object}`,
    ...(immutables.length ? { immutableReferences: immutables } : {}),
    metadata: output.metadata,
    standardJsonInput,
  };
}

/** Compiles a standard JSON input with the npm solc, as a block explorer would. */
function compileStandardJson(input, sourceName, contractName) {
  const output = JSON.parse(require("solc").compile(JSON.stringify(input)));
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join("\n"));
  const contract = output.contracts[sourceName][contractName];
  return {
    bytecode: `0x${contract.evm.bytecode.object}`,
    deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
    metadata: contract.metadata,
  };
}

task("export-artifact", "Writes anchoring/artifacts/{TallyAnchor,TallyRewards,TallyPoints}.json from a fresh compile")
  .addFlag("check", "Only compare with the committed files; fail if one is stale")
  .setAction(async ({ check }, hre) => {
    const built = [];
    for (const contract of CONTRACTS) {
      const fresh = await contractArtifact(hre, contract.fqn);
      const text = `${JSON.stringify(fresh, null, 2)}\n`;
      const relative = path.relative(process.cwd(), contract.path);
      if (check) {
        const committed = fs.existsSync(contract.path) ? fs.readFileSync(contract.path, "utf8") : "";
        if (committed !== text) {
          throw new Error(`${relative} is stale: run \`npm run export-artifact\` and commit it`);
        }
        console.log(`${relative} is up to date`);
      } else {
        // The standard JSON input must rebuild the exact bytecode, or explorers could not verify it.
        const rebuilt = compileStandardJson(fresh.standardJsonInput, fresh.sourceName, fresh.contractName);
        if (rebuilt.deployedBytecode !== fresh.deployedBytecode || rebuilt.bytecode !== fresh.bytecode) {
          throw new Error(
            `the standard JSON input of ${fresh.contractName} does not rebuild the bytecode Hardhat compiled`
          );
        }
        fs.mkdirSync(path.dirname(contract.path), { recursive: true });
        fs.writeFileSync(contract.path, text);
        console.log(`wrote ${relative}`);
      }
      built.push(fresh);
    }
    return built;
  });

// For the tests: `hre.tallyArtifacts[i].build()` is what `export-artifact` would write for that
// contract; `hre.tallyArtifact` is TallyAnchor's entry.
extendEnvironment((hre) => {
  hre.tallyArtifacts = CONTRACTS.map((contract) => ({
    name: contract.name,
    path: contract.path,
    build: () => contractArtifact(hre, contract.fqn),
    compileStandardJson,
  }));
  hre.tallyArtifact = hre.tallyArtifacts[0];
});

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      // anchor() runs once per epoch for years, deployment once: favour runtime gas.
      optimizer: { enabled: true, runs: 10000 },
      // Pinned rather than left to the compiler default, because the committed artifact and
      // every block-explorer verification must reproduce the same bytecode.
      evmVersion: "cancun",
      metadata: { bytecodeHash: "ipfs" },
    },
  },
  paths: {
    sources: "./contracts",
    tests: "./tests/contracts",
  },
  // Source verification of a deployed TallyAnchor (docs/contract.md):
  //   TALLY_RPC_URL=... ETHERSCAN_API_KEY=... npx hardhat verify --network deployed \
  //     --contract contracts/TallyAnchor.sol:TallyAnchor ADDRESS ADMIN ANCHORER DELAY
  networks: {
    deployed: { url: process.env.TALLY_RPC_URL || "http://127.0.0.1:8545" },
  },
  etherscan: {
    apiKey: process.env.ETHERSCAN_API_KEY || "",
    // A Blockscout instance, or any explorer with an Etherscan-compatible API.
    customChains: process.env.TALLY_EXPLORER_API_URL
      ? [
          {
            network: "deployed",
            chainId: Number(process.env.TALLY_CHAIN_ID),
            urls: { apiURL: process.env.TALLY_EXPLORER_API_URL, browserURL: process.env.TALLY_EXPLORER_URL || "" },
          },
        ]
      : [],
  },
  sourcify: { enabled: process.env.TALLY_SOURCIFY === "1" },
  mocha: {
    timeout: 120000,
  },
  gasReporter: {
    enabled: false,
  },
};
