// The contributor page's claim module (api/static/claim.js) against ethers.js and the compiled
// TallyRewards ABI: the calldata it sends, the refusals it names, the event it reads. Run by
// tests/page/test_page_claim.py (node --test).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Interface, Wallet, getAddress, hexlify, randomBytes } from "ethers";
import { CLAIM, REWARDS_ERRORS, claimCalldata, claimRefusal, claimedEvent } from "../../api/static/claim.js";

const artifact = JSON.parse(readFileSync(new URL("../../anchoring/artifacts/TallyRewards.json", import.meta.url), "utf8"));
const rewards = new Interface(artifact.abi);
const bundle = JSON.parse(readFileSync(new URL("../formats/golden/balance-bundle.json", import.meta.url), "utf8"));

test("the claim's calldata is what ethers encodes from the ABI", () => {
  const h = bundle.header;
  const expected = rewards.encodeFunctionData("claim", [
    [h.epoch, h.logSize, h.logRoot, h.balancesRoot, h.totalPoints], bundle.leaf.account, bundle.leaf.balance, bundle.proof]);
  assert.equal(claimCalldata(bundle), expected);
  assert.equal(rewards.getFunction("claim")?.format("sighash"), CLAIM);
});

test("a proof of another kind is not claimed", () => {
  assert.throws(() => claimCalldata({ ...bundle, kind: "contribution" }), /not a balance proof/);
});

test("every custom error of the contract is known to the page", () => {
  const declared = artifact.abi.filter((e) => e.type === "error").map((e) => rewards.getError(e.name)?.format("sighash"));
  for (const signature of declared) {
    if (/^(InvalidAnchor|InvalidToken|InvalidUnitsPerPoint|Ownable|SafeERC20|Address|ERC)/.test(signature)) continue;
    assert.ok(REWARDS_ERRORS.includes(signature), `${signature} is not named by the page`);
  }
});

test("refusals are named in words, with their numbers", () => {
  const account = getAddress(hexlify(randomBytes(20)));
  const cases = [
    ["NothingToClaim", [account, 150n, 150n], /^Nothing to claim: the balance anchored in the latest epoch \(150 points\) is not above what was paid already \(150 points\)\.$/],
    ["StaleEpoch", [2n, 3n], /proof is for epoch 2, and claims are against the latest anchored epoch, 3/],
    ["InsufficientPool", [10n, 1500n], /pool holds 10 token units, less than the 1500/],
    ["InvalidBalanceProof", [account, 5n], /does not accept this balance proof/],
  ];
  for (const [name, args, words] of cases) {
    const data = rewards.encodeErrorResult(name, args);
    assert.match(/** @type {string} */ (claimRefusal(data)), words);
    assert.match(/** @type {string} */ (claimRefusal({ data })), words);
  }
  assert.equal(claimRefusal("0x08c379a0"), null); // Error(string): not one of ours
  assert.equal(claimRefusal(undefined), null);
});

test("the Claimed event is read from the receipt's logs of the rewards contract only", () => {
  const account = Wallet.createRandom().address;
  const contract = getAddress(hexlify(randomBytes(20)));
  const encoded = rewards.encodeEventLog("Claimed", [account, 4n, 1200n, 1200n * 10n ** 18n]);
  const other = { address: getAddress(hexlify(randomBytes(20))), ...encoded };
  const receipt = { logs: [other, { address: contract.toLowerCase(), ...encoded }] };
  assert.deepEqual(claimedEvent(receipt, contract), { account, epoch: 4n, balance: 1200n, amount: 1200n * 10n ** 18n });
  assert.equal(claimedEvent({ logs: [other] }, contract), null);
});
