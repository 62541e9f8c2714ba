// The RFC 9162 library against the Python log (ledger.merkle): every valid proof of every log size
// 1..70 and of large sizes must verify on-chain, and every mutation must get the Python verdict.
const { expect } = require("chai");
const { ethers } = require("hardhat");

const { startAnvil } = require("./helpers/anvil");
const { loadPythonFixtures } = require("./helpers/fixtures");
const { MerkleLog, leafHash, nodeHash, leafData, hex, EMPTY_ROOT } = require("./helpers/rfc9162");

const CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";

// ethers' ABI coder takes seconds for tens of thousands of cases; this hand encoder, milliseconds.
// Every batch function takes `(uint256, uint256, bytes32, bytes32, bytes32[])[]`, then an
// optional uint256 seed.
const word = (n) => BigInt(n).toString(16).padStart(64, "0");

function encodeBatch(selector, cases, fields, seed) {
  const head = [selector.slice(2), word(seed === undefined ? 32 : 64)];
  if (seed !== undefined) head.push(word(seed));
  head.push(word(cases.length));
  const tails = [];
  let offset = cases.length * 32;
  for (const c of cases) {
    const [a, b, x, y, proof] = fields(c);
    head.push(word(offset));
    tails.push(word(a) + word(b) + x.slice(2) + y.slice(2) + word(160) + word(proof.length));
    for (const p of proof) tails.push(p.slice(2));
    offset += (6 + proof.length) * 32;
  }
  return "0x" + head.join("") + tails.join("");
}

const inclusionFields = (c) => [c.index, c.size, c.leaf, c.root, c.proof];
const consistencyFields = (c) => [c.first, c.second, c.firstRoot, c.secondRoot, c.proof];

/**
 * Splits cases into eth_calls that each stay well under Osaka's cap of 2^24 gas per call
 * (calldata included). `cost` estimates a case's hashing, in proof-element units.
 */
function* chunks(cases, cost, budget) {
  let start = 0;
  while (start < cases.length) {
    let end = start;
    let spent = 0;
    while (end < cases.length && (end === start || spent + cost(cases[end]) <= budget)) {
      spent += cost(cases[end]);
      end += 1;
    }
    yield cases.slice(start, end);
    start = end;
  }
}

function bitsOf(bytesLike, count) {
  const bytes = ethers.getBytes(bytesLike);
  return Array.from({ length: count }, (_, i) => (bytes[i >> 3] & (1 << (i & 7))) !== 0);
}

/** The on-chain verdict of every case, through the harness's batch view. */
async function verdicts(harness, fn, cases, fields) {
  const selector = harness.interface.getFunction(fn).selector;
  const to = await harness.getAddress();
  const calls = [...chunks(cases, (c) => c.proof.length + 6, 6_000)].map(async (chunk) => {
    const raw = await harness.runner.provider.call({ to, data: encodeBatch(selector, chunk, fields) });
    const [bits] = harness.interface.decodeFunctionResult(fn, raw);
    return bitsOf(bits, chunk.length);
  });
  return (await Promise.all(calls)).flat();
}

/** Runs the harness's on-chain mutations of every case: how many, and which cases let one pass. */
async function mutations(harness, fn, cases, fields) {
  const selector = harness.interface.getFunction(fn).selector;
  const to = await harness.getAddress();
  // Each case costs about (2k + 7) verifications of k elements each; calldata is small.
  const cost = (c) => (2 * c.proof.length + 7) * (c.proof.length + 1);
  const calls = [...chunks(cases, cost, 12_000)].map(async (chunk, n) => {
    const raw = await harness.runner.provider.call({ to, data: encodeBatch(selector, chunk, fields, n) });
    const [tried, bits] = harness.interface.decodeFunctionResult(fn, raw);
    return { tried, passed: chunk.filter((_, i) => bitsOf(bits, chunk.length)[i]) };
  });
  const results = await Promise.all(calls);
  return {
    tried: results.reduce((sum, r) => sum + r.tried, 0n),
    passed: results.flatMap((r) => r.passed),
  };
}

function summarise(cases, results) {
  const byKind = {};
  for (const [i, c] of cases.entries()) {
    const k = (byKind[c.kind] ??= { cases: 0, accepted: 0 });
    k.cases += 1;
    if (results[i]) k.accepted += 1;
  }
  return byKind;
}

describe("RFC9162 library", function () {
  let harness; // on the Hardhat network
  let batchHarness; // on anvil, unless TALLY_TEST_EVM=hardhat
  let anvil;
  let fx;

  before(async function () {
    this.timeout(120_000);
    fx = loadPythonFixtures();
    harness = await (await ethers.getContractFactory("RFC9162Harness")).deploy();
    batchHarness = harness;
    if (process.env.TALLY_TEST_EVM !== "hardhat") {
      anvil = await startAnvil();
      const signer = await anvil.provider.getSigner(0);
      batchHarness = await (await ethers.getContractFactory("RFC9162Harness", signer)).deploy();
      await batchHarness.waitForDeployment();
    }
  });

  after(async function () {
    await anvil?.stop();
  });

  describe("against the Python log (ledger.merkle)", function () {
    for (const [name, fields] of [
      ["inclusion", inclusionFields],
      ["consistency", consistencyFields],
    ]) {
      const title = name[0].toUpperCase() + name.slice(1);

      it(`accepts every valid ${name} proof, and agrees with Python when a size or index is off by one`, async function () {
        const cases = fx[name];
        const onChain = await verdicts(batchHarness, `verify${title}Batch`, cases, fields);
        const disagreements = cases.filter((c, i) => onChain[i] !== c.ok);
        expect(disagreements.slice(0, 3), `${disagreements.length} disagreements`).to.deep.equal([]);

        const kinds = summarise(cases, onChain);
        expect(kinds.valid.cases).to.be.greaterThan(2_500);
        expect(kinds.valid.accepted).to.equal(kinds.valid.cases);
        expect(kinds["size-off-by-one"].cases).to.be.greaterThan(2 * kinds.valid.cases - 200);
        // Changed claims are mostly refused; the rest are paths of the same shape (see gen_fixtures).
        expect(kinds["size-off-by-one"].accepted).to.be.lessThan(kinds["size-off-by-one"].cases);
        if (name === "inclusion") expect(kinds["index-off-by-one"].accepted).to.equal(0);
      });

      it(`refuses every flipped bit, dropped or appended element of every valid ${name} proof`, async function () {
        const valid = fx[name].filter((c) => c.kind === "valid");
        const { tried, passed } = await mutations(batchHarness, `mutate${title}Batch`, valid, fields);
        expect(passed.slice(0, 3), `${passed.length} cases let a mutation pass`).to.deep.equal([]);
        // The harness really ran every mutation: k flips, k drops, one append, and the others.
        const expected = valid.reduce((sum, c) => {
          const k = c.proof.length;
          if (name === "inclusion") return sum + 2 * k + 7;
          return sum + 2 * k + 2 + (c.first !== "0" || c.second === "0" ? 1 : 0);
        }, 0);
        expect(tried).to.equal(BigInt(expected));
        expect(expected).to.be.greaterThan(30_000);
      });
    }

    it("covers every size 1..70, every pair of sizes, and sizes past 2^16", async function () {
      const sizes = new Set(fx.inclusion.filter((c) => c.kind === "valid").map((c) => Number(c.size)));
      for (let n = 1; n <= 70; n++) expect(sizes.has(n), `size ${n}`).to.equal(true);
      const pairs = new Set(fx.consistency.filter((c) => c.kind === "valid").map((c) => `${c.first}-${c.second}`));
      for (let b = 0; b <= 70; b++)
        for (let a = 0; a <= b; a++) expect(pairs.has(`${a}-${b}`), `${a}-${b}`).to.equal(true);
      expect(Math.max(...sizes)).to.be.greaterThan(2 ** 17);
    });

    it("hashes leaves and nodes as Python does", async function () {
      for (const c of fx.contributions.slice(0, 10)) {
        expect(await harness.hashLeaf(c.leafData)).to.equal(c.leafHash);
        // abi.encode of the fields (here ethers', on-chain Solidity's below) is Python's leaf data.
        expect(leafData(c)).to.equal(c.leafData);
      }
      const [a, b] = fx.contributions.map((c) => c.leafHash);
      expect(await harness.hashChildren(a, b)).to.equal(fx.roots["2"]);
      expect(fx.roots["0"]).to.equal(EMPTY_ROOT);
    });

    it("agrees with this suite's JavaScript proofs byte for byte", async function () {
      const log = new MerkleLog(fx.contributions.map((c) => leafHash(c.leafData)));
      for (const [key, proof] of Object.entries(fx.consistencyProofs)) {
        const [a, b] = key.split("-").map(Number);
        expect(log.consistencyProof(a, b).map(hex), key).to.deep.equal(proof);
      }
      for (const [size, proofs] of Object.entries(fx.inclusionProofs)) {
        proofs.forEach((proof, i) => expect(log.inclusionProof(i, Number(size)).map(hex)).to.deep.equal(proof));
        expect(hex(log.root(Number(size)))).to.equal(fx.roots[size]);
      }
    });
  });

  describe("edge cases of RFC 9162 §2.1.4.2", function () {
    const r = (n) => fx.roots[String(n)];
    const p = (a, b) => fx.consistencyProofs[`${a}-${b}`];

    it("first size 0: an empty proof from the empty root, nothing else", async function () {
      expect(await harness.verifyConsistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])).to.equal(true);
      expect(await harness.verifyConsistency(0, 5, EMPTY_ROOT, r(5), [])).to.equal(true);
      expect(await harness.verifyConsistency(0, 5, r(1), r(5), [])).to.equal(false);
      expect(await harness.verifyConsistency(0, 5, EMPTY_ROOT, r(5), [r(5)])).to.equal(false);
      expect(await harness.verifyConsistency(0, 0, EMPTY_ROOT, r(1), [])).to.equal(false);
    });

    it("equal sizes: an empty proof and equal roots", async function () {
      expect(await harness.verifyConsistency(7, 7, r(7), r(7), [])).to.equal(true);
      expect(await harness.verifyConsistency(7, 7, r(7), r(6), [])).to.equal(false);
      expect(await harness.verifyConsistency(7, 7, r(7), r(7), [r(7)])).to.equal(false);
    });

    it("first size a power of two: its root is the implicit first element", async function () {
      for (const [a, b] of [
        [1, 2],
        [2, 3],
        [4, 7],
        [8, 9],
        [32, 70],
        [64, 65],
      ]) {
        expect(p(a, b).includes(r(a)), `${a}-${b}`).to.equal(false);
        expect(await harness.verifyConsistency(a, b, r(a), r(b), p(a, b))).to.equal(true);
        expect(await harness.verifyConsistency(a, b, r(a), r(b), [r(a), ...p(a, b)])).to.equal(false);
      }
    });

    it("a non-empty proof is needed when 0 < first < second", async function () {
      expect(await harness.verifyConsistency(3, 5, r(3), r(5), [])).to.equal(false);
      expect(await harness.verifyConsistency(4, 5, r(4), r(5), [])).to.equal(false);
    });

    it("first > second is false, not a revert", async function () {
      expect(await harness.verifyConsistency(6, 5, r(6), r(5), p(5, 6))).to.equal(false);
    });

    it("an overlong proof is refused without running past the tree", async function () {
      const long = [...p(5, 9), ...Array(300).fill(r(9))];
      expect(await harness.verifyConsistency(5, 9, r(5), r(9), long)).to.equal(false);
      const c = fx.contributions[2];
      const path = fx.inclusionProofs["9"][2];
      expect(await harness.verifyInclusion(2, 9, c.leafHash, [...path, ...Array(300).fill(r(9))], r(9))).to.equal(
        false
      );
    });

    it("inclusion in a one-leaf tree: the empty path, and the leaf is the root", async function () {
      const c = fx.contributions[0];
      expect(await harness.verifyInclusion(0, 1, c.leafHash, [], r(1))).to.equal(true);
      expect(c.leafHash).to.equal(r(1));
      expect(await harness.verifyInclusion(0, 0, c.leafHash, [], r(1))).to.equal(false);
      expect(await harness.verifyInclusion(1, 1, c.leafHash, [], r(1))).to.equal(false);
    });

    it("never confuses a leaf with a node (the 0x00/0x01 prefixes)", async function () {
      // The root of a 2-leaf tree, presented as a leaf of a 1-leaf tree: same bytes, other prefix.
      const [a, b] = fx.contributions;
      const asLeaf = ethers.concat([a.leafHash, b.leafHash]);
      expect(await harness.hashLeaf(asLeaf)).to.not.equal(r(2));
      expect(hex(nodeHash(ethers.getBytes(a.leafHash), ethers.getBytes(b.leafHash)))).to.equal(r(2));
    });
  });

  describe("TallyAnchor with the Python log", function () {
    it("anchors a growing log with Python's consistency proofs and verifies every leaf", async function () {
      const [admin] = await ethers.getSigners();
      const anchor = await (await ethers.getContractFactory("TallyAnchor")).deploy(admin.address, admin.address, 0);
      const sizes = [1, 2, 3, 4, 5, 8, 13, 16, 21, 33, 34, 55, 64, 69, 70];
      const headers = [];
      let previous = { epoch: 0, logSize: 0, logRoot: EMPTY_ROOT, balancesRoot: ethers.ZeroHash, totalPoints: 0 };
      for (const [i, size] of sizes.entries()) {
        const header = { epoch: i + 1, logSize: size, logRoot: r(size), balancesRoot: ethers.id(`b${i}`), totalPoints: 0 };
        await expect(anchor.anchor(previous, header, CID, p(previous.logSize, size)))
          .to.emit(anchor, "EpochAnchored")
          .withArgs(i + 1, size, r(size), ethers.id(`b${i}`), 0, CID);
        headers.push(header);
        previous = header;
      }
      const checks = [];
      for (const [i, size] of sizes.entries()) {
        for (const c of fx.contributions.slice(0, size)) {
          const proof = fx.inclusionProofs[String(size)][c.index];
          checks.push(
            anchor.verifyContribution(headers[i], c.index, c.contributor, c.contentHash, c.acceptedAt, c.points, proof)
          );
        }
        for (const [j, other] of sizes.entries()) {
          if (j >= i) checks.push(anchor.verifyConsistency(headers[i], headers[j], p(size, other)));
        }
      }
      const results = await Promise.all(checks);
      expect(results.length).to.be.greaterThan(500);
      expect(results.every((x) => x === true)).to.equal(true);
    });

    function r(n) {
      return fx.roots[String(n)];
    }
    function p(a, b) {
      return fx.consistencyProofs[`${a}-${b}`];
    }
  });
});
