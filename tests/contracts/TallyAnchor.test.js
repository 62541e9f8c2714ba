// TallyAnchor: roles, every refusal of anchor(), the stored headers and the verify views.
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
  let previous = 0;
  for (const [i, size] of sizes.entries()) {
    const { tree, total } = balancesOf(all.slice(0, size));
    const proof = log.consistencyProof(previous, size).map(hex);
    const root = hex(log.root(size));
    await anchor.connect(anchorer).anchor(i + 1, size, root, tree.root, total, `${CID}-${i + 1}`, proof);
    epochs.push({ epoch: i + 1, size, root, balances: tree, total });
    previous = size;
  }
  return { ...base, all, log, epochs };
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
        "anchor(uint64,uint64,bytes32,bytes32,uint128,string,bytes32[])",
        "latestEpoch()",
        "epochs(uint64)",
        "verifyContribution(uint64,uint64,address,bytes32,uint64,uint128,bytes32[])",
        "verifyBalance(uint64,address,uint256,bytes32[])",
        "verifyConsistency(uint64,uint64,bytes32[])",
      ]);
      expect(await anchor.supportsInterface(tallyAnchor)).to.equal(true);
      expect(await anchor.supportsInterface("0x01ffc9a7")).to.equal(true); // ERC-165
      expect(await anchor.supportsInterface("0x7965db0b")).to.equal(true); // IAccessControl
      expect(await anchor.supportsInterface("0x31498786")).to.equal(true); // IAccessControlDefaultAdminRules
      expect(await anchor.supportsInterface("0xffffffff")).to.equal(false);
    });

    it("starts with no epoch: latestEpoch is 0 and epoch 0 is all zero", async function () {
      const { anchor } = await loadFixture(deployFixture);
      expect(await anchor.latestEpoch()).to.equal(0);
      expect(await anchor.epochs(0)).to.deep.equal([0n, ethers.ZeroHash, ethers.ZeroHash, 0n, 0n]);
      expect(await anchor.epochs(1)).to.deep.equal([0n, ethers.ZeroHash, ethers.ZeroHash, 0n, 0n]);
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
      await expect(solo.connect(admin).anchor(1, 0, EMPTY_ROOT, ethers.id("b"), 0, CID, [])).to.emit(
        solo,
        "EpochAnchored"
      );
    });
  });

  describe("roles", function () {
    const firstAnchor = (anchor, signer) => anchor.connect(signer).anchor(1, 0, EMPTY_ROOT, ethers.id("b"), 0, CID, []);

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
      await expect(anchor.connect(stranger).anchor(7, 0, ethers.ZeroHash, ethers.ZeroHash, 0, "", [ethers.ZeroHash]))
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
      await expect(anchor.connect(stranger).anchor(2, 0, EMPTY_ROOT, ethers.id("b"), 0, CID, []))
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
    it("anchors epoch 1 from the empty log with an empty proof, and emits the exact event", async function () {
      const { anchor, anchorer, people } = await loadFixture(deployFixture);
      const items = contributions(3, people);
      const log = logOf(items);
      const { tree, total } = balancesOf(items);
      const tx = anchor.connect(anchorer).anchor(1, 3, hex(log.root()), tree.root, total, CID, []);
      await expect(tx).to.emit(anchor, "EpochAnchored").withArgs(1, 3, hex(log.root()), tree.root, total, CID);
      const block = await (await tx).getBlock();
      expect(await anchor.latestEpoch()).to.equal(1);
      expect(await anchor.epochs(1)).to.deep.equal([3n, hex(log.root()), tree.root, total, BigInt(block.timestamp)]);
    });

    it("anchors an empty first log only with the empty tree's root", async function () {
      const { anchor, anchorer } = await loadFixture(deployFixture);
      await expect(
        anchor.connect(anchorer).anchor(1, 0, ethers.id("not the empty root"), ethers.id("b"), 0, CID, [])
      ).to.be.revertedWithCustomError(anchor, "InvalidConsistencyProof");
      await expect(anchor.connect(anchorer).anchor(1, 0, EMPTY_ROOT, ethers.id("b"), 0, CID, []))
        .to.emit(anchor, "EpochAnchored")
        .withArgs(1, 0, EMPTY_ROOT, ethers.id("b"), 0, CID);
    });

    it("refuses a non-empty proof for the first epoch", async function () {
      const { anchor, anchorer, people } = await loadFixture(deployFixture);
      const log = logOf(contributions(4, people));
      await expect(
        anchor.connect(anchorer).anchor(1, 4, hex(log.root()), ethers.id("b"), 1, CID, [hex(log.root())])
      ).to.be.revertedWithCustomError(anchor, "InvalidConsistencyProof");
    });

    it("stores the largest values without one field spilling into another", async function () {
      const { anchor, anchorer } = await loadFixture(deployFixture);
      const logRoot = ethers.id("log");
      const balancesRoot = ethers.id("balances");
      const tx = await anchor.connect(anchorer).anchor(1, MAX_UINT64, logRoot, balancesRoot, MAX_UINT128, CID, []);
      const block = await tx.getBlock();
      expect(await anchor.epochs(1)).to.deep.equal([
        MAX_UINT64,
        logRoot,
        balancesRoot,
        MAX_UINT128,
        BigInt(block.timestamp),
      ]);
    });

    it("anchors a growing log with consistency proofs, and keeps every header", async function () {
      const { anchor, epochs } = await loadFixture(anchoredFixture);
      expect(await anchor.latestEpoch()).to.equal(epochs.length);
      for (const e of epochs) {
        const [size, root, balancesRoot, total] = await anchor.epochs(e.epoch);
        expect([size, root, balancesRoot, total]).to.deep.equal([BigInt(e.size), e.root, e.balances.root, e.total]);
      }
    });

    it("anchors an epoch without new contributions with the same root and an empty proof", async function () {
      const { anchor, anchorer, epochs } = await loadFixture(anchoredFixture);
      const last = epochs.at(-1);
      await expect(anchor.connect(anchorer).anchor(4, last.size, last.root, ethers.id("b"), 0, CID, []))
        .to.emit(anchor, "EpochAnchored")
        .withArgs(4, last.size, last.root, ethers.id("b"), 0, CID);
      await expect(
        anchor.connect(anchorer).anchor(5, last.size, last.root, ethers.id("b"), 0, CID, [last.root])
      ).to.be.revertedWithCustomError(anchor, "InvalidConsistencyProof");
      await expect(
        anchor.connect(anchorer).anchor(5, last.size, ethers.id("other root"), ethers.id("b"), 0, CID, [])
      ).to.be.revertedWithCustomError(anchor, "InvalidConsistencyProof");
    });

    it("refuses any epoch number but latestEpoch + 1", async function () {
      const { anchor, anchorer, epochs, log } = await loadFixture(anchoredFixture);
      const last = epochs.at(-1);
      for (const epoch of [0, 1, 3, 5, 100, MAX_UINT64]) {
        await expect(anchor.connect(anchorer).anchor(epoch, last.size, last.root, ethers.id("b"), 0, CID, []))
          .to.be.revertedWithCustomError(anchor, "UnexpectedEpoch")
          .withArgs(4, epoch);
      }
      const fresh = await loadFixture(deployFixture);
      await expect(fresh.anchor.connect(fresh.anchorer).anchor(0, 0, EMPTY_ROOT, ethers.id("b"), 0, CID, []))
        .to.be.revertedWithCustomError(fresh.anchor, "UnexpectedEpoch")
        .withArgs(1, 0);
      await expect(fresh.anchor.connect(fresh.anchorer).anchor(2, 1, hex(log.root(1)), ethers.id("b"), 0, CID, []))
        .to.be.revertedWithCustomError(fresh.anchor, "UnexpectedEpoch")
        .withArgs(1, 2);
    });

    it("refuses a log that shrank", async function () {
      const { anchor, anchorer, epochs, log } = await loadFixture(anchoredFixture);
      const last = epochs.at(-1);
      for (const size of [last.size - 1, 5, 1, 0]) {
        await expect(anchor.connect(anchorer).anchor(4, size, hex(log.root(size)), ethers.id("b"), 0, CID, []))
          .to.be.revertedWithCustomError(anchor, "LogShrank")
          .withArgs(last.size, size);
      }
    });

    it("refuses a log that rewrote history, whatever proof comes with it", async function () {
      const { anchor, anchorer, all, epochs, log, people } = await loadFixture(anchoredFixture);
      const last = epochs.at(-1);
      // The same 16 contributions with one earlier leaf changed, then 4 more.
      const rewritten = all.map((c) => ({ ...c }));
      rewritten[7].points += 1n;
      const more = contributions(20, people).slice(16);
      const forged = logOf([...rewritten, ...more]);
      const honest = logOf([...all, ...more]);
      const tries = [forged.consistencyProof(16, 20), honest.consistencyProof(16, 20), [], [hex(forged.root(20))]];
      for (const proof of tries) {
        await expect(
          anchor.connect(anchorer).anchor(
            4,
            20,
            hex(forged.root(20)),
            ethers.id("b"),
            0,
            CID,
            proof.map((p) => hex(p))
          )
        ).to.be.revertedWithCustomError(anchor, "InvalidConsistencyProof");
      }
      // The honest extension passes, so the refusals above were about the history only.
      await expect(
        anchor
          .connect(anchorer)
          .anchor(4, 20, hex(honest.root(20)), ethers.id("b"), 0, CID, honest.consistencyProof(16, 20).map(hex))
      ).to.emit(anchor, "EpochAnchored");
      expect(hex(honest.root(16))).to.equal(last.root);
      expect(hex(log.root(16))).to.equal(last.root);
    });

    it("refuses a proof made from another previous size", async function () {
      const { anchor, anchorer, people } = await loadFixture(anchoredFixture);
      const log = logOf(contributions(30, people));
      for (const from of [13, 15, 17]) {
        await expect(
          anchor
            .connect(anchorer)
            .anchor(4, 30, hex(log.root(30)), ethers.id("b"), 0, CID, log.consistencyProof(from, 30).map(hex))
        ).to.be.revertedWithCustomError(anchor, "InvalidConsistencyProof");
      }
    });

    it("refuses a zero log root or balances root", async function () {
      const { anchor, anchorer, log } = await loadFixture(anchoredFixture);
      const proof = log.consistencyProof(16, 16);
      await expect(
        anchor.connect(anchorer).anchor(4, 16, ethers.ZeroHash, ethers.id("b"), 0, CID, proof)
      ).to.be.revertedWithCustomError(anchor, "EmptyRoot");
      await expect(
        anchor.connect(anchorer).anchor(4, 16, hex(log.root(16)), ethers.ZeroHash, 0, CID, proof)
      ).to.be.revertedWithCustomError(anchor, "EmptyRoot");
      const fresh = await loadFixture(deployFixture);
      await expect(
        fresh.anchor.connect(fresh.anchorer).anchor(1, 0, ethers.ZeroHash, ethers.id("b"), 0, CID, [])
      ).to.be.revertedWithCustomError(fresh.anchor, "EmptyRoot");
    });

    it("refuses an empty manifest CID", async function () {
      const { anchor, anchorer, log } = await loadFixture(anchoredFixture);
      await expect(
        anchor.connect(anchorer).anchor(4, 16, hex(log.root(16)), ethers.id("b"), 0, "", [])
      ).to.be.revertedWithCustomError(anchor, "EmptyManifestCid");
    });

    it("changes nothing when it refuses", async function () {
      const { anchor, anchorer, epochs } = await loadFixture(anchoredFixture);
      const before = [await anchor.latestEpoch(), await anchor.epochs(3), await anchor.epochs(4)];
      await expect(
        anchor.connect(anchorer).anchor(4, 17, ethers.id("r"), ethers.id("b"), 0, CID, [ethers.id("p")])
      ).to.be.revertedWithCustomError(anchor, "InvalidConsistencyProof");
      expect([await anchor.latestEpoch(), await anchor.epochs(3), await anchor.epochs(4)]).to.deep.equal(before);
      expect(before[0]).to.equal(epochs.length);
    });

    it("stays within its gas budget (regression guard; bench/gas.py has the full table)", async function () {
      const { anchor, anchorer, people } = await loadFixture(deployFixture);
      const log = logOf(contributions(2024, people));
      const b = ethers.id("b");
      const gasOf = async (epoch, from, to) => {
        const proof = log.consistencyProof(from, to).map(hex);
        const tx = await anchor.connect(anchorer).anchor(epoch, to, hex(log.root(to)), b, 1, CID, proof);
        return (await tx.wait()).gasUsed;
      };
      await anchor.connect(anchorer).anchor(1, 1000, hex(log.root(1000)), b, 1, CID, []);
      // 1,000 -> 1,024: a proof of 6 elements; 1,024 -> 2,024: one element (a power of two).
      expect(await gasOf(2, 1000, 1024)).to.be.lessThan(118_000n);
      expect(await gasOf(3, 1024, 2024)).to.be.lessThan(111_000n);
    });
  });

  describe("verifyContribution", function () {
    it("accepts every leaf of every epoch with its inclusion proof", async function () {
      const { anchor, all, log, epochs } = await loadFixture(anchoredFixture);
      for (const e of epochs) {
        for (const c of all.slice(0, e.size)) {
          const proof = log.inclusionProof(c.index, e.size).map(hex);
          expect(
            await anchor.verifyContribution(
              e.epoch,
              c.index,
              c.contributor,
              c.contentHash,
              c.acceptedAt,
              c.points,
              proof
            )
          ).to.equal(true);
        }
      }
    });

    it("refuses any changed field, a proof for another size, and an index beyond the log", async function () {
      const { anchor, all, log, epochs, people } = await loadFixture(anchoredFixture);
      const e = epochs[1];
      const c = all[6];
      const proof = log.inclusionProof(c.index, e.size).map(hex);
      const verify = (over, p = proof, epoch = e.epoch) => {
        const x = { ...c, ...over };
        return anchor.verifyContribution(epoch, x.index, x.contributor, x.contentHash, x.acceptedAt, x.points, p);
      };
      expect(await verify({})).to.equal(true);
      expect(await verify({ index: 7 })).to.equal(false);
      expect(await verify({ contributor: people.find((p) => p !== c.contributor) })).to.equal(false);
      expect(await verify({ contentHash: ethers.id("another conversation") })).to.equal(false);
      expect(await verify({ acceptedAt: c.acceptedAt + 1 })).to.equal(false);
      expect(await verify({ points: c.points + 1n })).to.equal(false);
      expect(await verify({}, log.inclusionProof(c.index, 16).map(hex))).to.equal(false);
      expect(await verify({}, proof, 3)).to.equal(false);
      expect(await verify({}, proof.slice(0, -1))).to.equal(false);
      expect(await verify({}, [...proof, proof[0]])).to.equal(false);
      // Leaf 13 does not exist in a log of 13 leaves, whatever the proof.
      const beyond = all[13];
      for (const p of [proof, log.inclusionProof(13, 16).map(hex), []]) {
        expect(
          await anchor.verifyContribution(
            2,
            13,
            beyond.contributor,
            beyond.contentHash,
            beyond.acceptedAt,
            beyond.points,
            p
          )
        ).to.equal(false);
      }
    });

    it("reverts with UnknownEpoch for epoch 0 and for epochs not anchored yet", async function () {
      const { anchor, all } = await loadFixture(anchoredFixture);
      const c = all[0];
      for (const epoch of [0, 4, MAX_UINT64]) {
        await expect(anchor.verifyContribution(epoch, 0, c.contributor, c.contentHash, c.acceptedAt, c.points, []))
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
          expect(await anchor.verifyBalance(e.epoch, account, balance, e.balances.getProof(i))).to.equal(true);
        }
      }
    });

    it("refuses a changed amount, another account, and another epoch's proof", async function () {
      const { anchor, epochs, stranger } = await loadFixture(anchoredFixture);
      const e = epochs[2];
      for (const [i, [account, balance]] of e.balances.entries()) {
        const proof = e.balances.getProof(i);
        expect(await anchor.verifyBalance(3, account, BigInt(balance) + 1n, proof)).to.equal(false);
        expect(await anchor.verifyBalance(3, account, BigInt(balance) - 1n, proof)).to.equal(false);
        expect(await anchor.verifyBalance(3, account, 0, proof)).to.equal(false);
        expect(await anchor.verifyBalance(3, stranger.address, balance, proof)).to.equal(false);
        expect(await anchor.verifyBalance(2, account, balance, proof)).to.equal(false);
      }
    });

    it("reverts with UnknownEpoch for epochs not anchored", async function () {
      const { anchor, stranger } = await loadFixture(anchoredFixture);
      for (const epoch of [0, 4]) {
        await expect(anchor.verifyBalance(epoch, stranger.address, 1, []))
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
          expect(await anchor.verifyConsistency(a.epoch, b.epoch, proof)).to.equal(true);
        }
      }
    });

    it("refuses a backwards pair, a non-empty proof between equal epochs, and a wrong proof", async function () {
      const { anchor, log } = await loadFixture(anchoredFixture);
      expect(await anchor.verifyConsistency(3, 1, log.consistencyProof(5, 16).map(hex))).to.equal(false);
      expect(await anchor.verifyConsistency(2, 1, [])).to.equal(false);
      expect(await anchor.verifyConsistency(2, 2, [hex(log.root(13))])).to.equal(false);
      expect(await anchor.verifyConsistency(1, 3, log.consistencyProof(13, 16).map(hex))).to.equal(false);
      expect(await anchor.verifyConsistency(1, 3, [])).to.equal(false);
    });

    it("reverts with UnknownEpoch for epochs not anchored", async function () {
      const { anchor } = await loadFixture(anchoredFixture);
      await expect(anchor.verifyConsistency(0, 1, []))
        .to.be.revertedWithCustomError(anchor, "UnknownEpoch")
        .withArgs(0, 3);
      await expect(anchor.verifyConsistency(1, 4, []))
        .to.be.revertedWithCustomError(anchor, "UnknownEpoch")
        .withArgs(4, 3);
    });
  });
});
