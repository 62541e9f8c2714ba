// "My contributions": what this browser shared, each with its way to the chain (pending, sealed,
// anchored, final), its points, its receipt checked offline, and Verify: the inclusion proof
// checked against the anchor contract through the chain's RPC by the contributor page's own
// verification code (api/static/verify.js, copied in by the build), trusting nothing Tally says.
import { checkBatchConsent, checkReceipt, fetchConfig, getContribution, proofUrl } from "./vendor/tally-client.mjs";
import { verifyContribution } from "./vendor/page/verify.js";
import { describeError } from "./share.mjs";
import { getApiUrl, keptReceipts } from "./storage.mjs";

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @param {string} address @returns {string} 0x1234…abcd */
const short = (address) => `${address.slice(0, 6)}…${address.slice(-4)}`;

/**
 * Where a contribution is on its way to the chain, in the words the view shows.
 * @param {{epoch: number | null, epochState: string | null}} contribution
 * @returns {{state: "pending" | "sealed" | "anchored" | "final", words: string}}
 */
export function stage(contribution) {
  const { epoch, epochState } = contribution;
  if (epoch === null) return { state: "pending", words: "pending: in the next epoch" };
  if (epochState === "final") return { state: "final", words: `final (epoch ${epoch})` };
  if (epochState === "submitted" || epochState === "mined") {
    return { state: "anchored", words: `anchored (epoch ${epoch}), waiting for confirmations` };
  }
  return { state: "sealed", words: `sealed in epoch ${epoch}, not yet on-chain` };
}

/**
 * @param {string} api
 * @param {import("./vendor/tally-client.mjs").TallyConfig | null} config
 */
export async function showMine(api, config) {
  const receipts = (await keptReceipts()).filter((r) => r.api === api);
  $("mine-empty").hidden = receipts.length > 0;
  const rows = receipts.map((kept) => {
    const tr = document.createElement("tr");
    tr.dataset.contributionId = String(kept.id);
    tr.append(...["title", "id", "points num", "status", "receipt", "actions"].map((c) => {
      const td = document.createElement("td");
      td.className = c;
      return td;
    }));
    const [title, id, points, status, receipt, actions] = tr.children;
    title.textContent = kept.title ?? "";
    const link = document.createElement("a");
    link.href = `${api}/v1/contributions/${kept.id}`;
    link.target = "_blank";
    link.textContent = `#${kept.id}`;
    id.append(link);
    points.textContent = kept.points;
    status.textContent = "…";
    const verify = document.createElement("button");
    verify.type = "button";
    verify.textContent = "Verify";
    verify.disabled = true;
    const result = document.createElement("p");
    result.className = "verify-result";
    actions.append(verify, result);
    void fill(api, config, kept, { status, receipt, points, verify, result, tr });
    return tr;
  });
  $("mine-rows").replaceChildren(...rows);
}

/**
 * @param {string} api
 * @param {import("./vendor/tally-client.mjs").TallyConfig | null} config
 * @param {import("./storage.mjs").KeptReceipt} kept
 * @param {{status: Element, receipt: Element, points: Element, verify: HTMLButtonElement, result: HTMLElement,
 *          tr: HTMLElement}} cells
 */
async function fill(api, config, kept, cells) {
  let contribution;
  try {
    contribution = await getContribution(api, kept.id);
  } catch (error) {
    cells.status.textContent = `unknown: ${describeError(error)}`;
    return;
  }
  const where = stage(contribution);
  cells.tr.dataset.status = where.state;
  cells.status.textContent = where.words;
  cells.points.textContent = String(contribution.points);
  if (config) {
    try {
      const { operator } = checkReceipt(config, { ...contribution, receipt: kept.receipt }, { contentHash: kept.contentHash });
      let consent = "";
      if (contribution.consent?.batch) {
        const { count } = checkBatchConsent(config, contribution);
        consent = `; your consent: one signature for ${count}`;
      }
      cells.receipt.textContent = `✓ signed by the operator ${short(operator)}${consent}`;
      /** @type {HTMLElement} */ (cells.receipt).title = operator;
    } catch (error) {
      cells.receipt.textContent = `✗ ${describeError(error)}`;
    }
  }
  cells.verify.disabled = where.state !== "final" || !config;
  cells.verify.title = where.state === "final" ? "Check the inclusion proof against the chain" : "Verifiable once its epoch is final on-chain";
  cells.verify.addEventListener("click", async () => {
    if (!config) return;
    cells.verify.disabled = true;
    cells.result.textContent = "Checking against the chain…";
    cells.result.dataset.state = "running";
    try {
      const response = await fetch(proofUrl(api, kept.id));
      if (!response.ok) throw new Error(`Tally has no proof for it (HTTP ${response.status})`);
      const bundle = await response.json();
      const chain = { rpcUrl: config.rpcUrl ?? null, chainId: config.chainId, contract: config.contract };
      const report = await verifyContribution(bundle, chain, { contentHash: kept.contentHash });
      cells.result.dataset.state = report.ok ? "ok" : "failed";
      cells.result.textContent = report.ok
        ? `✓ Verified on chain ${config.chainId}: in epoch ${contribution.epoch}, anchored at ${short(config.contract)}`
        : `✗ ${report.failed?.name}: ${report.failed?.detail}`;
    } catch (error) {
      cells.result.dataset.state = "failed";
      cells.result.textContent = `✗ ${describeError(error)}`;
    } finally {
      cells.verify.disabled = false;
    }
  });
}

$("mine-refresh").addEventListener("click", async () => {
  const api = await getApiUrl();
  await showMine(api, await fetchConfig(api).catch(() => null));
});
