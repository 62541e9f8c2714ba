// The artifacts committed in the Python package (anchoring/artifacts/{TallyAnchor,TallyRewards,
// TallyPoints}.json) must be what the current sources compile to, and its standard JSON input must let anyone rebuild and
// verify the deployed bytecode.
const fs = require("node:fs");
const { createHash } = require("node:crypto");
const { expect } = require("chai");
const hre = require("hardhat");
const { ethers } = hre;

const STALE = "stale artifact: run `npm run export-artifact` and commit anchoring/artifacts/*.json";

const sha256 = (data) => createHash("sha256").update(data).digest();

function varint(n) {
  const out = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** The IPFS multihash solc embeds: a single-block UnixFS file in dag-pb (what `ipfs add` makes). */
function ipfsMultihash(content) {
  const data = Buffer.from(content);
  const unixfs = Buffer.concat([
    Buffer.from([0x08, 0x02, 0x12]),
    varint(data.length),
    data,
    Buffer.from([0x18]),
    varint(data.length),
  ]);
  const node = Buffer.concat([Buffer.from([0x0a]), varint(unixfs.length), unixfs]);
  return Buffer.concat([Buffer.from([0x12, 0x20]), sha256(node)]);
}

function base58(bytes) {
  const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  let n = BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
  let out = "";
  while (n > 0n) {
    out = alphabet[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = `1${out}`;
  }
  return out;
}

/** The CBOR map solc appends to runtime code: {"ipfs": bytes34, "solc": bytes3}. */
function metadataTrailer(code) {
  const bytes = ethers.getBytes(code);
  const length = (bytes[bytes.length - 2] << 8) | bytes[bytes.length - 1];
  const cbor = Buffer.from(bytes.slice(bytes.length - 2 - length, bytes.length - 2));
  expect(cbor[0]).to.equal(0xa2); // a map of two entries
  const entries = {};
  let i = 1;
  for (let k = 0; k < 2; k++) {
    const keyLength = cbor[i] & 0x1f; // a short text string
    const key = cbor.subarray(i + 1, i + 1 + keyLength).toString();
    i += 1 + keyLength;
    let valueLength = cbor[i] & 0x1f; // a byte string
    let header = 1;
    if (valueLength === 24) {
      valueLength = cbor[i + 1];
      header = 2;
    }
    entries[key] = cbor.subarray(i + header, i + header + valueLength);
    i += header + valueLength;
  }
  expect(i).to.equal(cbor.length);
  return entries;
}

/** The runtime code with the immutables' words zeroed, as solc leaves them in deployedBytecode. */
function withoutImmutables(code, references = []) {
  const bytes = ethers.getBytes(code);
  for (const { start, length } of references) bytes.fill(0, start, start + length);
  return ethers.hexlify(bytes);
}

/** Deploys `artifact` with constructor arguments that make sense for it. */
async function deployed(artifact, admin) {
  const deploy = async (a, ...args) => {
    const contract = await new ethers.ContractFactory(a.abi, a.bytecode, admin).deploy(...args);
    await contract.waitForDeployment();
    return contract.getAddress();
  };
  const read = (name) => JSON.parse(fs.readFileSync(hre.tallyArtifacts.find((a) => a.name === name).path, "utf8"));
  if (artifact.contractName === "TallyAnchor") return deploy(artifact, admin.address, admin.address, 3600);
  if (artifact.contractName === "TallyPoints") return deploy(artifact, admin.address, 10n ** 24n);
  const anchor = await deploy(read("TallyAnchor"), admin.address, admin.address, 3600);
  const token = await deploy(read("TallyPoints"), admin.address, 10n ** 24n);
  return deploy(artifact, anchor, token, 10n ** 18n, admin.address);
}

for (const entry of hre.tallyArtifacts) {
  describe(`committed artifact of ${entry.name}`, function () {
    let committed;
    let fresh;

    before(async function () {
      this.timeout(120_000);
      committed = JSON.parse(fs.readFileSync(entry.path, "utf8"));
      fresh = await entry.build();
    });

    it("is what the current sources compile to", function () {
      for (const key of [
        "compiler",
        "abi",
        "bytecode",
        "deployedBytecode",
        "immutableReferences",
        "metadata",
        "standardJsonInput",
      ]) {
        expect(committed[key], `${key}: ${STALE}`).to.deep.equal(fresh[key]);
      }
      expect(`${JSON.stringify(committed, null, 2)}\n`, STALE).to.equal(fs.readFileSync(entry.path, "utf8"));
    });

    it("names the compiler of solc 0.8.28 and pins the settings that shape the bytecode", function () {
      expect(committed.compiler).to.deep.equal({ version: "0.8.28", longVersion: "0.8.28+commit.7893614a" });
      const { settings } = committed.standardJsonInput;
      expect(settings.optimizer).to.deep.equal({ enabled: true, runs: 10000 });
      expect(settings.evmVersion).to.equal("cancun");
      expect(settings.metadata).to.deep.equal({ bytecodeHash: "ipfs" });
    });

    it("carries exactly the sources its metadata names, byte for byte", function () {
      const metadata = JSON.parse(committed.metadata);
      const sources = committed.standardJsonInput.sources;
      expect(Object.keys(sources).sort()).to.deep.equal(Object.keys(metadata.sources).sort());
      for (const [name, { content }] of Object.entries(sources)) {
        expect(ethers.keccak256(ethers.toUtf8Bytes(content)), name).to.equal(metadata.sources[name].keccak256);
      }
      expect(Object.keys(sources)).to.not.include("contracts/test/RFC9162Harness.sol");
    });

    it("rebuilds the same bytecode from its standard JSON input alone, as an explorer would", function () {
      this.timeout(120_000);
      const rebuilt = entry.compileStandardJson(
        committed.standardJsonInput,
        committed.sourceName,
        committed.contractName
      );
      expect(rebuilt.bytecode).to.equal(committed.bytecode);
      expect(rebuilt.deployedBytecode).to.equal(committed.deployedBytecode);
      expect(rebuilt.metadata).to.equal(committed.metadata);
    });

    it("ends its runtime code with the IPFS hash of its metadata and the solc version", function () {
      const trailer = metadataTrailer(committed.deployedBytecode);
      expect(Object.keys(trailer).sort()).to.deep.equal(["ipfs", "solc"]);
      expect(ethers.hexlify(trailer.ipfs)).to.equal(ethers.hexlify(ipfsMultihash(committed.metadata)));
      expect([...trailer.solc]).to.deep.equal([0, 8, 28]);
      // The known CIDv0 of "hello world\n" checks the UnixFS encoding above.
      expect(base58(ipfsMultihash("hello world\n"))).to.equal("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
    });

    it("deploys to code equal to its deployedBytecode, but for the immutables' words", async function () {
      const [admin] = await ethers.getSigners();
      const code = await ethers.provider.getCode(await deployed(committed, admin));
      expect(withoutImmutables(code, committed.immutableReferences)).to.equal(committed.deployedBytecode);
      // Only TallyRewards has immutables (its anchor, token and units per point), all set.
      expect((committed.immutableReferences ?? []).length > 0).to.equal(entry.name === "TallyRewards");
      if (committed.immutableReferences) expect(code).to.not.equal(committed.deployedBytecode);
      expect(base58(metadataTrailer(code).ipfs)).to.match(/^Qm[1-9A-HJ-NP-Za-km-z]{44}$/);
    });
  });
}
