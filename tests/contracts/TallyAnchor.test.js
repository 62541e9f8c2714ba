// TallyAnchor: roles, every refusal of anchor(), the stored header hashes and the verify views.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

const { MerkleLog, leafHash, leafData, hex, EMPTY_ROOT } = require("./helpers/rfc9162");

const ADMIN_DELAY = 3 * 24 * 3600;
const ANCHOR_ROLE = ethers.id("ANCHOR_ROLE");
const DEFAULT_ADMIN_ROLE = ethers.ZeroHash;
const CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";
const MAX_UINT64 = 2n ** 64n - 1n;
const MAX_UINT128 = 2n ** 128n - 1n;
const HEADER = "(uint64,uint64,bytes32,bytes32,uint128)";

/** An `ITallyAnchor.EpochHeader`, as ethers takes and returns it. */
function header(epoch, logSize, logRoot, balancesRoot, totalPoints) {
  return { epoch: BigInt(epoch), logSize: BigInt(logSize), logRoot, balancesRoot, totalPoints: BigInt(totalPoints) };
}

/** keccak256(abi.encode(epoch, logSize, logRoot, balancesRoot, totalPoints)), written out here. */
function headerHash(h) {
  return ethers.keccak256(
    ethers.AbiCoder.defaultAbiCoder().encode(
      ["uint64", "uint64", "bytes32", "bytes32", "uint128"],
      [h.epoch, h.logSize, h.logRoot, h.balancesRoot, h.totalPoints]
    )
  );
}

/** Epoch 0's header, the empty log, which epoch 1 extends. */
const GENESIS = header(0, 0, EMPTY_ROOT, ethers.ZeroHash, 0);
/** A first epoch of no contributions: the empty log again, and some balances root. */
const EMPTY_FIRST = header(1, 0, EMPTY_ROOT, ethers.id("b"), 0);

/** The same header with some fields replaced. */
const changed = (h, fields) => ({ ...h, ...fields });

/** Deterministic contributions, so that failures reproduce. */
function contributions(count, signers) {
  return Array.from({ length: count }, (_, i) => ({
    index: i,
    contributor: signers[i % signers.length],
    contentHash: ethers.keccak256(ethers.toUtf8Bytes(`conversation ${i}`)),
    acceptedAt: 1_760_000_000 + 37 * i,
    points: BigInt(10 + ((i * 7919) % 1000)),
  }));
}

function logOf(items) {
  return new MerkleLog(items.map((c) => leafHash(leafData(c))));
}

function balancesOf(items) {
  const totals = new Map();
  for (const c of items) totals.set(c.contributor, (totals.get(c.contributor) ?? 0n) + c.points);
  const values = [...totals.entries()].map(([account, balance]) => [account, balance.toString()]);
  const total = [...totals.values()].reduce((a, b) => a + b, 0n);
  return { tree: StandardMerkleTree.of(values, ["address", "uint256"]), total };
}

async function deployFixture() {
  const [deployer, admin, anchorer, stranger, newAdmin, ...rest] = await ethers.getSigners();
  const factory = await ethers.getContractFactory("TallyAnchor");
  const anchor = await factory.deploy(admin.address, anchorer.address, ADMIN_DELAY);
  await anchor.waitForDeployment();
  const people = rest.slice(0, 5).map((s) => s.address);
  return { anchor, deployer, admin, anchorer, stranger, newAdmin, people };
}

/**
 * Three epochs anchored from one growing log: sizes 5, 13 (not a power of two) and 16, with the
 * balances of everything up to each epoch.
 */
async function anchoredFixture() {
  const base = await deployFixture();
  const { anchor, anchorer, people } = base;
  const all = contributions(16, people);
  const log = logOf(all);
  const sizes = [5, 13, 16];
  const epochs = [];
  let previous = GENESIS;
  for (const [i, size] of sizes.entries()) {
    const { tree, total } = balancesOf(all.slice(0, size));
    const proof = log.consistencyProof(Number(previous.logSize), size).map(hex);
    const h = header(i + 1, size, hex(log.root(size)), tree.root, total);
    await anchor.connect(anchorer).anchor(previous, h, `${CID}-${i + 1}`, proof);
    epochs.push({ epoch: i + 1, size, root: h.logRoot, balances: tree, total, header: h });
    previous = h;
  }
  return { ...base, all, log, epochs, latest: previous };
}

describe("TallyAnchor", function () {
  describe("deployment", function () {
    it("sets the admin, its transfer delay and the anchoring key", async function () {
      const { anchor, admin, anchorer, deployer } = await loadFixture(deployFixture);
      expect(await anchor.defaultAdmin()).to.equal(admin.address);
      expect(await anchor.owner()).to.equal(admin.address);
      expect(await anchor.defaultAdminDelay()).to.equal(ADMIN_DELAY);
      expect(await anchor.ANCHOR_ROLE()).to.equal(ANCHOR_ROLE);
      expect(await anchor.hasRole(ANCHOR_ROLE, anchorer.address)).to.equal(true);
      expect(await anchor.hasRole(DEFAULT_ADMIN_ROLE, admin.address)).to.equal(true);
      expect(await anchor.hasRole(ANCHOR_ROLE, admin.address)).to.equal(false);
      expect(await anchor.hasRole(DEFAULT_ADMIN_ROLE, deployer.address)).to.equal(false);
      expect(await anchor.getRoleAdmin(ANCHOR_ROLE)).to.equal(DEFAULT_ADMIN_ROLE);
    });

    it("answers ERC-165 for ITallyAnchor and the access-control interfaces", async function () {
      const { anchor } = await loadFixture(deployFixture);
      const interfaceId = (names) => {
        const iface = new ethers.Interface(names.map((n) => `function ${n}`));
        let id = 0n;
        iface.forEachFunction((f) => (id ^= BigInt(f.selector)));
        return ethers.toBeHex(id, 4);
      };
      const tallyAnchor = interfaceId([
        `anchor(${HEADER},${HEADER},string,bytes32[])`,
        "latestEpoch()",
        "headerHash(uint64)",
        `verifyContribution(${HEADER},uint64,address,bytes32,uint64,uint128,bytes32[])`,
        `verifyBalance(${HEADER},address,uint256,bytes32[])`,
        `verifyConsistency(${HEADER},${HEADER},bytes32[])`,
      ]);
      expect(await anchor.supportsInterface(tallyAnchor)).to.equal(true);
      expect(await anchor.supportsInterface("0x01ffc9a7")).to.equal(true); // ERC-165
      expect(await anchor.supportsInterface("0x7965db0b")).to.equal(true); // IAccessControl
      expect(await anchor.supportsInterface("0x31498786")).to.equal(true); // IAccessControlDefaultAdminRules
      expect(await anchor.supportsInterface("0xffffffff")).to.equal(false);
    });

    it("starts with no epoch: latestEpoch is 0 and no header hash, not even epoch 0's", async function () {
      const { anchor } = await loadFixture(deployFixture);
      expect(await anchor.latestEpoch()).to.equal(0);
      expect(await anchor.headerHash(0)).to.equal(ethers.ZeroHash);
      expect(await anchor.headerHash(1)).to.equal(ethers.ZeroHash);
      // Each call made only when awaited: a call made early rejects before anything listens.
      for (const view of [
        () => anchor.verifyContribution(GENESIS, 0, ethers.ZeroAddress, ethers.ZeroHash, 0, 0, []),
        () => anchor.verifyBalance(GENESIS, ethers.ZeroAddress, 0, []),
        () => anchor.verifyConsistency(GENESIS, GENESIS, []),
      ]) {
        await expect(view()).to.be.revertedWithCustomError(anchor, "UnknownEpoch").withArgs(0, 0);
      }
    });

    it("emits RoleGranted for the admin and the anchorer", async function () {
      const { admin, anchorer, deployer } = await loadFixture(deployFixture);
      const factory = await ethers.getContractFactory("TallyAnchor");
      const fresh = await factory.deploy(admin.address, anchorer.address, ADMIN_DELAY);
      const tx = fresh.deploymentTransaction();
      await expect(tx).to.emit(fresh, "RoleGranted").withArgs(DEFAULT_ADMIN_ROLE, admin.address, deployer.address);
      await expect(tx).to.emit(fresh, "RoleGranted").withArgs(ANCHOR_ROLE, anchorer.address, deployer.address);
    });

    it("refuses the zero address as anchorer or as admin", async function () {
      const { admin, anchorer } = await loadFixture(deployFixture);
      const factory = await ethers.getContractFactory("TallyAnchor");
      await expect(factory.deploy(admin.address, ethers.ZeroAddress, ADMIN_DELAY))
        .to.be.revertedWithCustomError(factory, "InvalidAnchorer")
        .withArgs(ethers.ZeroAddress);
      await expect(factory.deploy(ethers.ZeroAddress, anchorer.address, ADMIN_DELAY))
        .to.be.revertedWithCustomError(factory, "AccessControlInvalidDefaultAdmin")
        .withArgs(ethers.ZeroAddress);
    });

    it("lets the admin also be the anchorer", async function () {
      const { admin } = await loadFixture(deployFixture);
      const factory = await ethers.getContractFactory("TallyAnchor");
      const solo = await factory.deploy(admin.address, admin.address, 0);
      await expect(solo.connect(admin).anchor(GENESIS, EMPTY_FIRST, CID, [])).to.emit(solo, "EpochAnchored");
    });
  });

  describe("roles", function () {
    const firstAnchor = (anchor, signer) => anchor.connect(signer).anchor(GENESIS, EMPTY_FIRST, CID, []);

    it("refuses anchor from an address without ANCHOR_ROLE, the admin included", async function () {
      const { anchor, admin, stranger, deployer } = await loadFixture(deployFixture);
      for (const signer of [stranger, admin, deployer]) {
        await expect(firstAnchor(anchor, signer))
          .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
          .withArgs(signer.address, ANCHOR_ROLE);
      }
      expect(await anchor.latestEpoch()).to.equal(0);
    });

    it("checks the role before the arguments", async function () {
      const { anchor, stranger } = await loadFixture(deployFixture);
      const nonsense = header(7, 0, ethers.ZeroHash, ethers.ZeroHash, 0);
      await expect(anchor.connect(stranger).anchor(nonsense, nonsense, "", [ethers.ZeroHash]))
        .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
        .withArgs(stranger.address, ANCHOR_ROLE);
    });

    it("lets the admin grant and revoke ANCHOR_ROLE, with events", async function () {
      const { anchor, admin, stranger } = await loadFixture(deployFixture);
      await expect(anchor.connect(admin).grantRole(ANCHOR_ROLE, stranger.address))
        .to.emit(anchor, "RoleGranted")
        .withArgs(ANCHOR_ROLE, stranger.address, admin.address);
      await expect(firstAnchor(anchor, stranger)).to.emit(anchor, "EpochAnchored");
      await expect(anchor.connect(admin).revokeRole(ANCHOR_ROLE, stranger.address))
        .to.emit(anchor, "RoleRevoked")
        .withArgs(ANCHOR_ROLE, stranger.address, admin.address);
      await expect(anchor.connect(stranger).anchor(EMPTY_FIRST, header(2, 0, EMPTY_ROOT, ethers.id("b"), 0), CID, []))
        .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
        .withArgs(stranger.address, ANCHOR_ROLE);
    });

    it("lets the anchorer renounce its role, and nobody else renounce it on its behalf", async function () {
      const { anchor, anchorer, stranger } = await loadFixture(deployFixture);
      await expect(anchor.connect(stranger).renounceRole(ANCHOR_ROLE, anchorer.address)).to.be.revertedWithCustomError(
        anchor,
        "AccessControlBadConfirmation"
      );
      await expect(anchor.connect(anchorer).renounceRole(ANCHOR_ROLE, anchorer.address))
        .to.emit(anchor, "RoleRevoked")
        .withArgs(ANCHOR_ROLE, anchorer.address, anchorer.address);
      await expect(firstAnchor(anchor, anchorer))
        .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
        .withArgs(anchorer.address, ANCHOR_ROLE);
    });

    it("refuses role management from anyone but the admin", async function () {
      const { anchor, anchorer, stranger } = await loadFixture(deployFixture);
      for (const signer of [anchorer, stranger]) {
        await expect(anchor.connect(signer).grantRole(ANCHOR_ROLE, signer.address))
          .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
          .withArgs(signer.address, DEFAULT_ADMIN_ROLE);
        await expect(anchor.connect(signer).revokeRole(ANCHOR_ROLE, anchorer.address))
          .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
          .withArgs(signer.address, DEFAULT_ADMIN_ROLE);
        await expect(anchor.connect(signer).beginDefaultAdminTransfer(signer.address))
          .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
          .withArgs(signer.address, DEFAULT_ADMIN_ROLE);
      }
    });

    it("never hands over the admin role through grantRole", async function () {
      const { anchor, admin, newAdmin } = await loadFixture(deployFixture);
      await expect(anchor.connect(admin).grantRole(DEFAULT_ADMIN_ROLE, newAdmin.address)).to.be.revertedWithCustomError(
        anchor,
        "AccessControlEnforcedDefaultAdminRules"
      );
    });

    it("makes an admin transfer wait for its delay", async function () {
      const { anchor, admin, newAdmin, stranger } = await loadFixture(deployFixture);
      const tx = await anchor.connect(admin).beginDefaultAdminTransfer(newAdmin.address);
      const scheduledAt = (await tx.getBlock()).timestamp;
      const schedule = scheduledAt + ADMIN_DELAY;
      await expect(tx).to.emit(anchor, "DefaultAdminTransferScheduled").withArgs(newAdmin.address, schedule);
      expect(await anchor.pendingDefaultAdmin()).to.deep.equal([newAdmin.address, BigInt(schedule)]);

      await expect(anchor.connect(newAdmin).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(anchor, "AccessControlEnforcedDefaultAdminDelay")
        .withArgs(schedule);
      // One second before the schedule is still too early: the delay is exact, not approximate.
      await time.setNextBlockTimestamp(schedule);
      await expect(anchor.connect(newAdmin).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(anchor, "AccessControlEnforcedDefaultAdminDelay")
        .withArgs(schedule);
      await expect(anchor.connect(stranger).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(anchor, "AccessControlInvalidDefaultAdmin")
        .withArgs(stranger.address);

      await expect(anchor.connect(newAdmin).acceptDefaultAdminTransfer())
        .to.emit(anchor, "RoleRevoked")
        .withArgs(DEFAULT_ADMIN_ROLE, admin.address, newAdmin.address)
        .and.to.emit(anchor, "RoleGranted")
        .withArgs(DEFAULT_ADMIN_ROLE, newAdmin.address, newAdmin.address);
      expect(await anchor.defaultAdmin()).to.equal(newAdmin.address);
      await expect(anchor.connect(admin).grantRole(ANCHOR_ROLE, admin.address))
        .to.be.revertedWithCustomError(anchor, "AccessControlUnauthorizedAccount")
        .withArgs(admin.address, DEFAULT_ADMIN_ROLE);
      await expect(anchor.connect(newAdmin).grantRole(ANCHOR_ROLE, stranger.address))
        .to.emit(anchor, "RoleGranted")
        .withArgs(ANCHOR_ROLE, stranger.address, newAdmin.address);
    });

    it("lets the admin cancel a scheduled transfer", async function () {
      const { anchor, admin, newAdmin } = await loadFixture(deployFixture);
      await anchor.connect(admin).beginDefaultAdminTransfer(newAdmin.address);
      await expect(anchor.connect(admin).cancelDefaultAdminTransfer()).to.emit(anchor, "DefaultAdminTransferCanceled");
      await time.increase(ADMIN_DELAY + 1);
      await expect(anchor.connect(newAdmin).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(anchor, "AccessControlInvalidDefaultAdmin")
        .withArgs(newAdmin.address);
      expect(await anchor.defaultAdmin()).to.equal(admin.address);
    });
  });

  describe("anchor", function () {
    it("anchors epoch 1 from the empty log with an empty proof, stores its hash and emits the exact event", async function () {
      const { anchor, anchorer, people } = await loadFixture(deployFixture);
      const items = contributions(3, people);
      const log = logOf(items);
      const { tree, total } = balancesOf(items);
      const h = header(1, 3, hex(log.root()), tree.root, total);
      await expect(anchor.connect(anchorer).anchor(GENESIS, h, CID, []))
        .to.emit(anchor, "EpochAnchored")
        .withArgs(1, 3, h.logRoot, tree.root, total, CID);
      expect(await anchor.latestEpoch()).to.equal(1);
      expect(await anchor.headerHash(1)).to.equal(headerHash(h));
      expect(await anchor.headerHash(2)).to.equal(ethers.ZeroHash);
    });

    it("anchors an empty first log only with the empty tree's root", async function () {
      const { anchor, anchorer } = await loadFixture(deployFixture);
      await expect(
        anchor.connect(anchorer).anchor(GENESIS, changed(EMPTY_FIRST, { logRoot: ethers.id("not empty") }), CID, [])
      ).to.be.revertedWithCustomError(anchor, "InvalidConsistencyProof");
      await expect(anchor.connect(anchorer).anchor(GENESIS, EMPTY_FIRST, CID, []))
        .to.emit(anchor, "EpochAnchored")
        .withArgs(1, 0, EMPTY_ROOT, EMPTY_FIRST.balancesRoot, 0, CID);
    });

    it("refuses a non-empty proof for the first epoch", async function () {
      const { anchor, anchorer, people } = await loadFixture(deployFixture);
      const log = logOf(contributions(4, people));
      const h = header(1, 4, hex(log.root()), ethers.id("b"), 1);
      await expect(anchor.connect(anchorer).anchor(GENESIS, h, CID, [h.logRoot])).to.be.revertedWithCustomError(
        anchor,
        "InvalidConsistencyProof"
      );
    });

    it("takes the largest values, and their header verifies as it was given", async function () {
      const { anchor, anchorer } = await loadFixture(deployFixture);
      const h = header(1, MAX_UINT64, ethers.id("log"), ethers.id("balances"), MAX_UINT128);
      await expect(anchor.connect(anchorer).anchor(GENESIS, h, CID, []))
        .to.emit(anchor, "EpochAnchored")
        .withArgs(1, MAX_UINT64, h.logRoot, h.balancesRoot, MAX_UINT128, CID);
      expect(await anchor.headerHash(1)).to.equal(headerHash(h));
      expect(await anchor.verifyConsistency(h, h, [])).to.equal(true);
    });

    it("anchors a growing log with consistency proofs, and keeps every header's hash", async function () {
      const { anchor, epochs } = await loadFixture(anchoredFixture);
      expect(await anchor.latestEpoch()).to.equal(epochs.length);
      for (const e of epochs) expect(await anchor.headerHash(e.epoch)).to.equal(headerHash(e.header));
      expect(new Set(epochs.map((e) => headerHash(e.header))).size).to.equal(epochs.length);
    });

    it("anchors an epoch without new contributions with the same root and an empty proof", async function () {
      const { anchor, anchorer, latest } = await loadFixture(anchoredFixture);
      const fourth = header(4, latest.logSize, latest.logRoot, ethers.id("b"), 0);
      await expect(anchor.connect(anchorer).anchor(latest, fourth, CID, []))
        .to.emit(anchor, "EpochAnchored")
        .withArgs(4, latest.logSize, latest.logRoot, ethers.id("b"), 0, CID);
      const fifth = header(5, latest.logSize, latest.logRoot, ethers.id("b"), 0);
      await expect(anchor.connect(anchorer).anchor(fourth, fifth, CID, [latest.logRoot])).to.be.revertedWithCustomError(
        anchor,
        "InvalidConsistencyProof"
      );
      await expect(
        anchor.connect(anchorer).anchor(fourth, changed(fifth, { logRoot: ethers.id("other root") }), CID, [])
      ).to.be.revertedWithCustomError(anchor, "InvalidConsistencyProof");
    });

    it("refuses any epoch number but latestEpoch + 1", async function () {
      const { anchor, anchorer, latest, log } = await loadFixture(anchoredFixture);
      for (const epoch of [0, 1, 3, 5, 100, MAX_UINT64]) {
        await expect(anchor.connect(anchorer).anchor(latest, changed(latest, { epoch: BigInt(epoch) }), CID, []))
          .to.be.revertedWithCustomError(anchor, "UnexpectedEpoch")
          .withArgs(4, epoch);
      }
      const fresh = await loadFixture(deployFixture);
      await expect(fresh.anchor.connect(fresh.anchorer).anchor(GENESIS, changed(EMPTY_FIRST, { epoch: 0n }), CID, []))
        .to.be.revertedWithCustomError(fresh.anchor, "UnexpectedEpoch")
        .withArgs(1, 0);
      const second = header(2, 1, hex(log.root(1)), ethers.id("b"), 0);
      await expect(fresh.anchor.connect(fresh.anchorer).anchor(GENESIS, second, CID, []))
        .to.be.revertedWithCustomError(fresh.anchor, "UnexpectedEpoch")
        .withArgs(1, 2);
    });

    it("refuses a previous header that is not the latest epoch's, naming both hashes", async function () {
      const { anchor, anchorer, epochs, latest, log } = await loadFixture(anchoredFixture);
      const next = header(4, 16, latest.logRoot, ethers.id("b"), 0);
      const stored = headerHash(latest);
      // Every field of the latest header changed, and the headers of older epochs: the previous
      // log (its size and root) is only ever the one the latest epoch anchored.
      const wrong = [
        changed(latest, { epoch: 2n }),
        changed(latest, { logSize: 13n }),
        changed(latest, { logRoot: hex(log.root(13)) }),
        changed(latest, { balancesRoot: ethers.id("b") }),
        changed(latest, { totalPoints: latest.totalPoints + 1n }),
        epochs[1].header,
        epochs[0].header,
        GENESIS,
      ];
      for (const previous of wrong) {
        const proof = log.consistencyProof(Number(previous.logSize), 16).map(hex);
        await expect(anchor.connect(anchorer).anchor(previous, next, CID, proof))
          .to.be.revertedWithCustomError(anchor, "HeaderMismatch")
          .withArgs(3, stored, headerHash(previous));
      }
      await expect(anchor.connect(anchorer).anchor(latest, next, CID, [])).to.emit(anchor, "EpochAnchored");
    });

    it("refuses anything but the empty log's header before epoch 1, so no history can be made up", async function () {
      const { anchor, anchorer, people } = await loadFixture(deployFixture);
      const log = logOf(contributions(8, people));
      const first = header(1, 8, hex(log.root(8)), ethers.id("b"), 1);
      const genesisHash = headerHash(GENESIS);
      // A made-up epoch 0 of 5 leaves, whose proof to 8 leaves is valid: refused for its header.
      const madeUp = header(0, 5, hex(log.root(5)), ethers.ZeroHash, 0);
      for (const previous of [madeUp, changed(GENESIS, { balancesRoot: ethers.id("b") }), changed(GENESIS, { epoch: 1n })]) {
        const proof = log.consistencyProof(Number(previous.logSize), 8).map(hex);
        await expect(anchor.connect(anchorer).anchor(previous, first, CID, proof))
          .to.be.revertedWithCustomError(anchor, "HeaderMismatch")
          .withArgs(0, genesisHash, headerHash(previous));
      }
      await expect(anchor.connect(anchorer).anchor(GENESIS, first, CID, [])).to.emit(anchor, "EpochAnchored");
    });

    it("refuses a log that shrank", async function () {
      const { anchor, anchorer, latest, log } = await loadFixture(anchoredFixture);
      for (const size of [15, 5, 1, 0]) {
        await expect(anchor.connect(anchorer).anchor(latest, header(4, size, hex(log.root(size)), ethers.id("b"), 0), CID, []))
          .to.be.revertedWithCustomError(anchor, "LogShrank")
          .withArgs(16, size);
      }
    });

    it("refuses a log that rewrote history, whatever proof comes with it", async function () {
      const { anchor, anchorer, all, latest, log, people } = await loadFixture(anchoredFixture);
      // The same 16 contributions with one earlier leaf changed, then 4 more.
      const rewritten = all.map((c) => ({ ...c }));
      rewritten[7].points += 1n;
      const more = contributions(20, people).slice(16);
      const forged = logOf([...rewritten, ...more]);
      const honest = logOf([...all, ...more]);
      const next = header(4, 20, hex(forged.root(20)), ethers.id("b"), 0);
      const tries = [forged.consistencyProof(16, 20), honest.consistencyProof(16, 20), [], [forged.root(20)]];
      for (const proof of tries) {
        await expect(anchor.connect(anchorer).anchor(latest, next, CID, proof.map(hex))).to.be.revertedWithCustomError(
          anchor,
          "InvalidConsistencyProof"
        );
      }
      // The forged log's own previous header is refused before its proof is even looked at.
      const forgedPrevious = changed(latest, { logRoot: hex(forged.root(16)) });
      await expect(anchor.connect(anchorer).anchor(forgedPrevious, next, CID, forged.consistencyProof(16, 20).map(hex)))
        .to.be.revertedWithCustomError(anchor, "HeaderMismatch")
        .withArgs(3, headerHash(latest), headerHash(forgedPrevious));
      // The honest extension passes, so the refusals above were about the history only.
      const honestNext = header(4, 20, hex(honest.root(20)), ethers.id("b"), 0);
      await expect(
        anchor.connect(anchorer).anchor(latest, honestNext, CID, honest.consistencyProof(16, 20).map(hex))
      ).to.emit(anchor, "EpochAnchored");
      expect(hex(honest.root(16))).to.equal(latest.logRoot);
      expect(hex(log.root(16))).to.equal(latest.logRoot);
    });

    it("refuses a proof made from another previous size", async function () {
      const { anchor, anchorer, latest, people } = await loadFixture(anchoredFixture);
      const log = logOf(contributions(30, people));
      const next = header(4, 30, hex(log.root(30)), ethers.id("b"), 0);
      for (const from of [13, 15, 17]) {
        await expect(
          anchor.connect(anchorer).anchor(latest, next, CID, log.consistencyProof(from, 30).map(hex))
        ).to.be.revertedWithCustomError(anchor, "InvalidConsistencyProof");
      }
    });

    it("refuses a zero log root or balances root", async function () {
      const { anchor, anchorer, latest } = await loadFixture(anchoredFixture);
      const next = header(4, 16, latest.logRoot, ethers.id("b"), 0);
      for (const h of [changed(next, { logRoot: ethers.ZeroHash }), changed(next, { balancesRoot: ethers.ZeroHash })]) {
        await expect(anchor.connect(anchorer).anchor(latest, h, CID, [])).to.be.revertedWithCustomError(anchor, "EmptyRoot");
      }
      const fresh = await loadFixture(deployFixture);
      await expect(
        fresh.anchor.connect(fresh.anchorer).anchor(GENESIS, changed(EMPTY_FIRST, { logRoot: ethers.ZeroHash }), CID, [])
      ).to.be.revertedWithCustomError(fresh.anchor, "EmptyRoot");
    });

    it("refuses an empty manifest CID", async function () {
      const { anchor, anchorer, latest } = await loadFixture(anchoredFixture);
      await expect(
        anchor.connect(anchorer).anchor(latest, header(4, 16, latest.logRoot, ethers.id("b"), 0), "", [])
      ).to.be.revertedWithCustomError(anchor, "EmptyManifestCid");
    });

    it("refuses integers with bits beyond their type, in the new header and in the previous one", async function () {
      const { anchor, anchorer, latest } = await loadFixture(anchoredFixture);
      const next = header(4, 16, latest.logRoot, ethers.id("b"), 7);
      const data = anchor.interface.encodeFunctionData("anchor", [latest, next, CID, []]);
      // Words after the selector: previous (0-4), then header (5-9): epoch, logSize, ., ., totalPoints.
      const withWord = (index, add) => {
        const words = data.slice(10).match(/.{64}/g);
        words[index] = (BigInt(`0x${words[index]}`) + add).toString(16).padStart(64, "0");
        return data.slice(0, 10) + words.join("");
      };
      const send = (calldata) => anchorer.sendTransaction({ to: anchor.target, data: calldata, gasLimit: 500_000 });
      for (const [index, add] of [[5, 2n ** 64n], [6, 2n ** 64n], [9, 2n ** 128n]]) {
        await expect(send(withWord(index, add))).to.be.reverted;
      }
      // A previous header with a dirty word is not the anchored one.
      await expect(send(withWord(4, 2n ** 128n))).to.be.revertedWithCustomError(anchor, "HeaderMismatch");
      expect(await anchor.latestEpoch()).to.equal(3);
      await expect(send(data)).to.emit(anchor, "EpochAnchored").withArgs(4, 16, latest.logRoot, next.balancesRoot, 7, CID);
      expect(await anchor.headerHash(4)).to.equal(headerHash(next));
    });

    it("changes nothing when it refuses", async function () {
      const { anchor, anchorer, epochs, latest } = await loadFixture(anchoredFixture);
      const before = [await anchor.latestEpoch(), await anchor.headerHash(3), await anchor.headerHash(4)];
      await expect(
        anchor.connect(anchorer).anchor(latest, header(4, 17, ethers.id("r"), ethers.id("b"), 0), CID, [ethers.id("p")])
      ).to.be.revertedWithCustomError(anchor, "InvalidConsistencyProof");
      expect([await anchor.latestEpoch(), await anchor.headerHash(3), await anchor.headerHash(4)]).to.deep.equal(before);
      expect(before[0]).to.equal(epochs.length);
    });

    it("stays within its gas budget (regression guard; bench/gas.py has the full table)", async function () {
      const { anchor, anchorer, people } = await loadFixture(deployFixture);
      const log = logOf(contributions(5095, people));
      const b = ethers.id("b");
      let previous = GENESIS;
      const gasOf = async (to) => {
        const proof = log.consistencyProof(Number(previous.logSize), to).map(hex);
        const h = header(previous.epoch + 1n, to, hex(log.root(to)), b, 1);
        const receipt = await (await anchor.connect(anchorer).anchor(previous, h, CID, proof)).wait();
        previous = h;
        return { gas: receipt.gasUsed, proof: proof.length };
      };
      await gasOf(1000); // the first epoch, from the empty log
      const eight = await gasOf(1024); // 1,000 -> 1,024
      const one = await gasOf(2024); // 1,024 -> 2,024: one element, as 1,024 is a power of two
      await gasOf(4095);
      const fourteen = await gasOf(5095); // 4,095 -> 5,095: most elements cost two hashes
      expect([eight.proof, fourteen.proof, one.proof]).to.deep.equal([8, 14, 1]);
      expect(one.gas).to.be.lessThan(67_000n);
      expect(eight.gas).to.be.lessThan(74_000n);
      expect(fourteen.gas).to.be.lessThan(81_500n);
      // The longest proof at 2^20 leaves has 22 elements: at this slope, still under 100,000 gas.
      expect(one.gas + ((fourteen.gas - one.gas) * 21n) / 13n).to.be.lessThan(100_000n);
    });
  });

  describe("verifyContribution", function () {
    it("accepts every leaf of every epoch with its inclusion proof and the epoch's header", async function () {
      const { anchor, all, log, epochs } = await loadFixture(anchoredFixture);
      for (const e of epochs) {
        for (const c of all.slice(0, e.size)) {
          const proof = log.inclusionProof(c.index, e.size).map(hex);
          expect(
            await anchor.verifyContribution(e.header, c.index, c.contributor, c.contentHash, c.acceptedAt, c.points, proof)
          ).to.equal(true);
        }
      }
    });

    it("refuses any changed field, a proof for another size, and an index beyond the log", async function () {
      const { anchor, all, log, epochs, people } = await loadFixture(anchoredFixture);
      const e = epochs[1];
      const c = all[6];
      const proof = log.inclusionProof(c.index, e.size).map(hex);
      const verify = (over, p = proof, h = e.header) => {
        const x = { ...c, ...over };
        return anchor.verifyContribution(h, x.index, x.contributor, x.contentHash, x.acceptedAt, x.points, p);
      };
      expect(await verify({})).to.equal(true);
      expect(await verify({ index: 7 })).to.equal(false);
      expect(await verify({ contributor: people.find((p) => p !== c.contributor) })).to.equal(false);
      expect(await verify({ contentHash: ethers.id("another conversation") })).to.equal(false);
      expect(await verify({ acceptedAt: c.acceptedAt + 1 })).to.equal(false);
      expect(await verify({ points: c.points + 1n })).to.equal(false);
      expect(await verify({}, log.inclusionProof(c.index, 16).map(hex))).to.equal(false);
      expect(await verify({}, proof, epochs[2].header)).to.equal(false);
      expect(await verify({}, proof.slice(0, -1))).to.equal(false);
      expect(await verify({}, [...proof, proof[0]])).to.equal(false);
      // Leaf 13 does not exist in a log of 13 leaves, whatever the proof.
      const beyond = all[13];
      for (const p of [proof, log.inclusionProof(13, 16).map(hex), []]) {
        expect(
          await anchor.verifyContribution(e.header, 13, beyond.contributor, beyond.contentHash, beyond.acceptedAt, beyond.points, p)
        ).to.equal(false);
      }
    });

    it("reverts with HeaderMismatch for a header that is not the anchored one, a size that fits the path included", async function () {
      const { anchor, all, log, epochs } = await loadFixture(anchoredFixture);
      const e = epochs[0]; // 5 leaves
      const c = all[4];
      const proof = log.inclusionProof(4, 5).map(hex);
      expect(await anchor.verifyContribution(e.header, c.index, c.contributor, c.contentHash, c.acceptedAt, c.points, proof))
        .to.equal(true);
      // The size and the root come from the caller, but only as the anchored header has them: an
      // RFC 9162 path fixes its shape, not the tree size, so a size is never taken on trust.
      for (const h of [
        changed(e.header, { logSize: 6n }),
        changed(e.header, { logRoot: hex(log.root(6)) }),
        changed(e.header, { balancesRoot: epochs[1].balances.root }),
        changed(e.header, { totalPoints: 0n }),
        changed(epochs[1].header, { epoch: 1n }),
      ]) {
        await expect(anchor.verifyContribution(h, c.index, c.contributor, c.contentHash, c.acceptedAt, c.points, proof))
          .to.be.revertedWithCustomError(anchor, "HeaderMismatch")
          .withArgs(1, headerHash(e.header), headerHash(h));
      }
    });

    it("reverts with UnknownEpoch for epoch 0 and for epochs not anchored yet", async function () {
      const { anchor, all, latest } = await loadFixture(anchoredFixture);
      const c = all[0];
      for (const epoch of [0n, 4n, MAX_UINT64]) {
        await expect(
          anchor.verifyContribution(changed(latest, { epoch }), 0, c.contributor, c.contentHash, c.acceptedAt, c.points, [])
        )
          .to.be.revertedWithCustomError(anchor, "UnknownEpoch")
          .withArgs(epoch, 3);
      }
    });
  });

  describe("verifyBalance", function () {
    it("accepts every balance of every epoch with its @openzeppelin/merkle-tree proof", async function () {
      const { anchor, epochs } = await loadFixture(anchoredFixture);
      for (const e of epochs) {
        for (const [i, [account, balance]] of e.balances.entries()) {
          expect(await anchor.verifyBalance(e.header, account, balance, e.balances.getProof(i))).to.equal(true);
        }
      }
    });

    it("refuses a changed amount, another account, and another epoch's proof", async function () {
      const { anchor, epochs, stranger } = await loadFixture(anchoredFixture);
      const [, second, third] = epochs;
      for (const [i, [account, balance]] of third.balances.entries()) {
        const proof = third.balances.getProof(i);
        expect(await anchor.verifyBalance(third.header, account, BigInt(balance) + 1n, proof)).to.equal(false);
        expect(await anchor.verifyBalance(third.header, account, BigInt(balance) - 1n, proof)).to.equal(false);
        expect(await anchor.verifyBalance(third.header, account, 0, proof)).to.equal(false);
        expect(await anchor.verifyBalance(third.header, stranger.address, balance, proof)).to.equal(false);
        expect(await anchor.verifyBalance(second.header, account, balance, proof)).to.equal(false);
      }
    });

    it("reverts with HeaderMismatch for another balances root, and UnknownEpoch for epochs not anchored", async function () {
      const { anchor, epochs, latest } = await loadFixture(anchoredFixture);
      const e = epochs[2];
      const [account, balance] = e.balances.at(0);
      const proof = e.balances.getProof(0);
      const other = StandardMerkleTree.of([[account, balance]], ["address", "uint256"]);
      const forged = changed(e.header, { balancesRoot: other.root });
      await expect(anchor.verifyBalance(forged, account, balance, other.getProof(0)))
        .to.be.revertedWithCustomError(anchor, "HeaderMismatch")
        .withArgs(3, headerHash(e.header), headerHash(forged));
      expect(await anchor.verifyBalance(e.header, account, balance, proof)).to.equal(true);
      for (const epoch of [0n, 4n]) {
        await expect(anchor.verifyBalance(changed(latest, { epoch }), account, balance, proof))
          .to.be.revertedWithCustomError(anchor, "UnknownEpoch")
          .withArgs(epoch, 3);
      }
    });
  });

  describe("verifyConsistency", function () {
    it("accepts the consistency proof between any two anchored epochs", async function () {
      const { anchor, log, epochs } = await loadFixture(anchoredFixture);
      for (const a of epochs) {
        for (const b of epochs.filter((x) => x.epoch >= a.epoch)) {
          const proof = log.consistencyProof(a.size, b.size).map(hex);
          expect(await anchor.verifyConsistency(a.header, b.header, proof)).to.equal(true);
        }
      }
    });

    it("refuses a backwards pair, a non-empty proof between equal epochs, and a wrong proof", async function () {
      const { anchor, anchorer, log, epochs, latest } = await loadFixture(anchoredFixture);
      const [first, second, third] = epochs.map((e) => e.header);
      expect(await anchor.verifyConsistency(third, first, log.consistencyProof(5, 16).map(hex))).to.equal(false);
      expect(await anchor.verifyConsistency(second, first, [])).to.equal(false);
      expect(await anchor.verifyConsistency(second, second, [hex(log.root(13))])).to.equal(false);
      expect(await anchor.verifyConsistency(first, third, log.consistencyProof(13, 16).map(hex))).to.equal(false);
      expect(await anchor.verifyConsistency(first, third, [])).to.equal(false);
      // An epoch without new contributions has the log of the one before: consistent forwards only.
      const fourth = header(4, latest.logSize, latest.logRoot, ethers.id("b"), 0);
      await anchor.connect(anchorer).anchor(latest, fourth, CID, []);
      expect(await anchor.verifyConsistency(third, fourth, [])).to.equal(true);
      expect(await anchor.verifyConsistency(fourth, third, [])).to.equal(false);
    });

    it("reverts with UnknownEpoch or HeaderMismatch for a header that is not anchored", async function () {
      const { anchor, epochs, latest } = await loadFixture(anchoredFixture);
      const first = epochs[0].header;
      await expect(anchor.verifyConsistency(GENESIS, first, []))
        .to.be.revertedWithCustomError(anchor, "UnknownEpoch")
        .withArgs(0, 3);
      await expect(anchor.verifyConsistency(first, changed(latest, { epoch: 4n }), []))
        .to.be.revertedWithCustomError(anchor, "UnknownEpoch")
        .withArgs(4, 3);
      const forged = changed(latest, { logSize: 17n });
      for (const [from, to] of [[first, forged], [forged, latest]]) {
        await expect(anchor.verifyConsistency(from, to, []))
          .to.be.revertedWithCustomError(anchor, "HeaderMismatch")
          .withArgs(3, headerHash(latest), headerHash(forged));
      }
    });
  });
});
