// Claiming the tokens of an anchored balance from the contributor page: the balance proof from
// this server (a tally-proof-v1 bundle of kind "balance"), TallyRewards.claim sent by the wallet
// of this browser (EIP-1193: eth_sendTransaction), checked first with eth_call through the
// chain's RPC so that a refusal is named before anything is signed (docs/contract.md). Anyone may
// send the claim for an account; the tokens always go to the account.
import { EPOCH_HEADER, JsonRpc, TALLY_ANCHOR, encodeCall, functionSelector, headerTuple } from "./chain.js";
import { bytesToHex, hexToBytes, keccak256, toChecksumAddress, utf8, wordToUint } from "./hashing.js";

export const CLAIM = `claim(${EPOCH_HEADER},address,uint256,bytes32[])`;
export const CLAIMED_EVENT = "Claimed(address,uint64,uint256,uint256)";

/** TallyRewards' custom errors (contracts/TallyRewards.sol), and the anchor's it passes on. */
export const REWARDS_ERRORS = Object.freeze([
  "StaleEpoch(uint64,uint64)", "BalanceExceedsTotal(uint256,uint128)", "InvalidBalanceProof(address,uint256)",
  "NothingToClaim(address,uint256,uint256)", "InsufficientPool(uint256,uint256)", "InvalidRecipient(address)",
  ...TALLY_ANCHOR.errors,
]);

/** How long to wait for the claim's transaction to be mined. */
const RECEIPT_TIMEOUT_MS = 120_000;

export class ClaimError extends Error {
  name = "ClaimError";
}

/**
 * The calldata of `claim(header, account, balance, proof)` for a balance bundle.
 * @param {any} bundle
 * @returns {string}
 */
export function claimCalldata(bundle) {
  if (bundle?.kind !== "balance") throw new ClaimError("this is not a balance proof");
  return encodeCall(CLAIM, [headerTuple(bundle.header), bundle.leaf.account, bundle.leaf.balance, bundle.proof]);
}

/**
 * A revert of the claim in words, when it is one of the contract's errors.
 * @param {unknown} data the revert data (0x-hex), as a JSON-RPC error carries it
 * @returns {string | null}
 */
export function claimRefusal(data) {
  const hex = typeof data === "string" ? data : typeof (/** @type {any} */ (data)?.data) === "string" ? /** @type {any} */ (data).data : null;
  if (!hex || hex.length < 10) return null;
  const signature = REWARDS_ERRORS.find((s) => bytesToHex(functionSelector(s)) === hex.slice(0, 10).toLowerCase());
  if (!signature) return null;
  const words = hexToBytes(`0x${hex.slice(10)}`, undefined, "revert data");
  const arg = (/** @type {number} */ i) => wordToUint(words.slice(32 * i, 32 * i + 32));
  switch (signature.split("(")[0]) {
    case "NothingToClaim":
      return `Nothing to claim: the balance anchored in the latest epoch (${arg(1)} points) is not above what was paid already (${arg(2)} points).`;
    case "StaleEpoch":
      return `The proof is for epoch ${arg(0)}, and claims are against the latest anchored epoch, ${arg(1)}: reload the page and claim again.`;
    case "InsufficientPool":
      return `The rewards pool holds ${arg(0)} token units, less than the ${arg(1)} this claim pays: the operator must fund it first.`;
    case "InvalidBalanceProof":
      return "The contract does not accept this balance proof for this account.";
    case "BalanceExceedsTotal":
      return "The balance is above the epoch's total points: the proof is not this epoch's.";
    default:
      return `The contract refused the claim: ${signature.split("(")[0]}.`;
  }
}

/**
 * The Claimed event of a transaction receipt from `rewards`, decoded.
 * @param {any} receipt
 * @param {string} rewards the contract's address
 * @returns {{account: string, epoch: bigint, balance: bigint, amount: bigint} | null}
 */
export function claimedEvent(receipt, rewards) {
  const topic = bytesToHex(keccak256(utf8(CLAIMED_EVENT)));
  const log = (receipt?.logs ?? []).find((l) => String(l.address).toLowerCase() === rewards.toLowerCase()
    && String(l.topics?.[0]).toLowerCase() === topic);
  if (!log) return null;
  const data = hexToBytes(log.data, 96, "Claimed data");
  const word = (/** @type {number} */ i) => wordToUint(data.slice(32 * i, 32 * i + 32));
  return {
    account: toChecksumAddress(hexToBytes(log.topics[1], 32, "Claimed account").slice(12)),
    epoch: word(0), balance: word(1), amount: word(2),
  };
}

/**
 * Claim `bundle`'s balance with the wallet `ethereum`, the transaction followed through `rpcUrl`.
 * @param {{ethereum: any, rpcUrl: string, chainId: number, rewards: string, bundle: any,
 *          onStatus?: (text: string) => void}} request
 * @returns {Promise<{from: string, hash: string, event: NonNullable<ReturnType<typeof claimedEvent>>}>}
 * @throws {ClaimError} in words: refused by the contract, declined in the wallet, failed on-chain
 */
export async function claimWithWallet({ ethereum, rpcUrl, chainId, rewards, bundle, onStatus = () => {} }) {
  const rpc = new JsonRpc(rpcUrl);
  const data = claimCalldata(bundle);
  const accounts = await walletCall(ethereum, "eth_requestAccounts");
  const from = String(accounts?.[0] ?? "");
  if (!from) throw new ClaimError("the wallet gave no account");
  const current = Number(await walletCall(ethereum, "eth_chainId"));
  if (current !== chainId) {
    await walletCall(ethereum, "wallet_switchEthereumChain", [{ chainId: `0x${chainId.toString(16)}` }]);
  }
  // Named before anything is signed: the node runs the claim as the wallet would send it.
  try {
    await rpc.request("eth_call", [{ from, to: rewards, data }, "latest"]);
  } catch (error) {
    const refusal = claimRefusal(/** @type {any} */ (error).data);
    throw new ClaimError(refusal ?? `the claim would fail: ${/** @type {Error} */ (error).message}`);
  }
  onStatus("Waiting for your wallet to send the claim…");
  const hash = String(await walletCall(ethereum, "eth_sendTransaction", [{ from, to: rewards, data }]));
  onStatus(`Sent (${hash.slice(0, 10)}…); waiting for it to be mined…`);
  const deadline = Date.now() + RECEIPT_TIMEOUT_MS;
  for (;;) {
    const receipt = await rpc.request("eth_getTransactionReceipt", [hash]);
    if (receipt) {
      if (Number(receipt.status) !== 1) throw new ClaimError(`the claim's transaction ${hash} failed on-chain`);
      const event = claimedEvent(receipt, rewards);
      if (!event) throw new ClaimError(`the claim's transaction ${hash} logged no Claimed event`);
      return { from, hash, event };
    }
    if (Date.now() > deadline) throw new ClaimError(`the claim's transaction ${hash} is not mined after 2 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/**
 * @param {any} ethereum
 * @param {string} method
 * @param {unknown[]} [params]
 */
async function walletCall(ethereum, method, params = []) {
  try {
    return await ethereum.request({ method, params });
  } catch (error) {
    const e = /** @type {{code?: number, message?: string}} */ (error);
    if (e?.code === 4001) throw new ClaimError("you declined in your wallet");
    throw new ClaimError(`the wallet failed: ${e?.message ?? String(error)}`);
  }
}
