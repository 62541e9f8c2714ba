// From conversations the user picked to contributions Tally accepted: each is normalised with its
// images (canonical version 2 when it has any), its personal data redacted (what is signed is
// exactly what the preview shows), scored as an estimate (quality-v3 with images, as the server
// scores), looked up in case it was shared before; then the whole selection is signed once
// (EIP-712 ContributionBatch) and submitted with its images, and each receipt is checked and kept.
import {
  ApiError,
  checkReceipt,
  contentHash,
  describeFindings,
  encodeAttachments,
  getContribution,
  imageCid,
  imageCids,
  normalise,
  ReceiptError,
  redactForSubmission,
  score,
  signBatch,
  submitBatch,
} from "./vendor/tally-client.mjs";
import { imageLimitProblem, sizeAndLimit } from "./chatgpt-images.mjs";

/** @typedef {import("./vendor/tally-client.mjs").TallyConfig} TallyConfig */
/** @typedef {import("./vendor/tally-client.mjs").CanonicalConversation} CanonicalConversation */

/**
 * @typedef {object} SharedImage one image of a conversation, as it is signed and sent
 * @property {string} cid        what the canonical conversation names it by
 * @property {Uint8Array} bytes
 * @property {string} mediaType
 */

/**
 * @typedef {object} Prepared what would be shared of one conversation
 * @property {CanonicalConversation | null} canonical the normalised active branch, redacted
 * @property {string | null} contentHash of `canonical`
 * @property {number | null} points the scorer's points for it: an estimate, since limits apply
 * @property {string} redactions what was replaced, in words ("" when nothing)
 * @property {SharedImage[]} images its distinct images, in order of first mention
 * @property {string | null} error why it cannot be shared
 */

/**
 * A conversation that cannot be shared, and why.
 * @param {string} error
 * @returns {Prepared}
 */
export function unshareable(error) {
  return { canonical: null, contentHash: null, points: null, redactions: "", images: [], error };
}

/**
 * @param {unknown} conversation any accepted input (a ChatGPT conversation, ShareGPT, messages)
 * @param {import("./chatgpt-images.mjs").DownloadedImage[]} [images] its images' bytes, by asset pointer
 * @param {{maxImageBytes?: number, maxContributionImageBytes?: number}} [limits] Tally's, when known
 * @returns {Prepared}
 */
export function prepare(conversation, images = [], limits = undefined) {
  try {
    const byPointer = Object.fromEntries(images.map((i) => [i.pointer, i.bytes]));
    const { conversation: canonical, findings } = redactForSubmission(normalise(conversation, { images: byPointer }));
    /** @type {Map<string, SharedImage>} */
    const byCid = new Map(images.map((i) => [imageCid(i.bytes), i]).map(([cid, i]) =>
      [cid, { cid, bytes: i.bytes, mediaType: i.mediaType }]));
    const shared = [...new Set(imageCids(canonical))].map((cid) => /** @type {SharedImage} */ (byCid.get(cid)));
    const tooLarge = imageLimitProblem(new Map(shared.map((i) => [i.cid, i.bytes])), limits);
    if (tooLarge) return unshareable(tooLarge);
    return {
      canonical,
      contentHash: contentHash(canonical),
      points: score(canonical).points,
      redactions: findings.length ? describeFindings(findings) : "",
      images: shared,
      error: null,
    };
  } catch (error) {
    return unshareable(describeError(error));
  }
}

/**
 * Whether Tally holds this contentHash already: its contribution (id, status), or null.
 * @param {string} api
 * @param {string} hash
 * @returns {Promise<{id: number, status: string} | null>}
 */
export async function sharedBefore(api, hash) {
  try {
    const found = await getContribution(api, hash);
    return { id: Number(found.id), status: String(found.status) };
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/**
 * A refusal or failure in words a contributor reads.
 * @param {unknown} error
 */
export function describeError(error) {
  if (error instanceof ApiError) {
    if (error.status === 0) return `Tally cannot be reached: ${error.message}`;
    return error.problem ? problemWords(error.problem) : error.message;
  }
  if (error instanceof ReceiptError) return `The receipt does not check out: ${error.message}`;
  const e = /** @type {Error & {code?: string}} */ (error);
  // A client-side refusal carries the code the API would answer with (unknown-role, ...).
  return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? error);
}

/**
 * A problem+json body (RFC 9457) in words: its title, then its detail.
 * @param {Record<string, any>} problem
 */
export function problemWords(problem) {
  const title = typeof problem.title === "string" ? problem.title : "Refused";
  return typeof problem.detail === "string" && problem.detail ? `${title}: ${problem.detail}` : title;
}

/**
 * @typedef {object} ShareOutcome one item of a shared selection, in submission order
 * @property {string} title
 * @property {string} contentHash
 * @property {"accepted" | "refused"} state
 * @property {number | null} id the contribution's id when accepted
 * @property {string} points
 * @property {string} words what happened, to show
 */

/**
 * The distinct images of a selection, checked against Tally's published limits before anything is
 * signed: each conversation's (GET /v1/config may have been out of reach when it was previewed),
 * and the one request's (`limits.maxBatchBodyBytes`: the conversations and every image in base64).
 * @param {TallyConfig} config
 * @param {Array<{title: string, prepared: Prepared}>} ready
 * @returns {Uint8Array[]}
 * @throws {Error} in words, when the selection cannot go as one signed request
 */
export function checkedImages(config, ready) {
  /** @type {Map<string, Uint8Array>} */
  const all = new Map();
  for (const { title, prepared } of ready) {
    const own = new Map(prepared.images.map((i) => [i.cid, i.bytes]));
    const problem = imageLimitProblem(own, config.limits);
    if (problem) throw new Error(`“${title}” cannot be shared: ${problem}`);
    for (const [cid, bytes] of own) all.set(cid, bytes);
  }
  const most = /** @type {any} */ (config.limits)?.maxBatchBodyBytes;
  if (all.size && typeof most === "number") {
    const size = new TextEncoder().encode(JSON.stringify({
      conversations: ready.map((i) => i.prepared.canonical), attachments: encodeAttachments([...all.values()]) })).length;
    // The consent's own fields (contributor, nonce, signature, ...) are well under a kilobyte.
    if (size + 1024 > most) {
      const [request, limit] = sizeAndLimit(size + 1024, most);
      throw new Error(`these conversations and their images make a request of ${request}; Tally takes at most `
        + `${limit} in one signed selection (limits.maxBatchBodyBytes): select fewer conversations with images`);
    }
  }
  return [...all.values()];
}

/**
 * Sign the selection once and submit it; check and keep each receipt.
 * @param {{api: string, config: TallyConfig, signer: any,
 *          items: Array<{title: string, prepared: Prepared}>,
 *          keep: (entries: import("./storage.mjs").KeptReceipt[]) => Promise<void>}} request
 * @returns {Promise<ShareOutcome[]>}
 */
export async function shareSelection({ api, config, signer, items, keep }) {
  const ready = items.filter((i) => i.prepared.canonical !== null);
  const conversations = ready.map((i) => /** @type {CanonicalConversation} */ (i.prepared.canonical));
  const images = checkedImages(config, ready);
  const body = await signBatch(config, conversations, signer, { images });
  const answer = await submitBatch(api, body);
  const now = Math.floor(Date.now() / 1000);
  /** @type {ShareOutcome[]} */
  const outcomes = [];
  /** @type {import("./storage.mjs").KeptReceipt[]} */
  const kept = [];
  answer.results.forEach((result, i) => {
    const { title, prepared } = ready[i];
    const hash = /** @type {string} */ (prepared.contentHash);
    if (result.contribution) {
      const contribution = result.contribution;
      try {
        const { operator } = checkReceipt(config, contribution, { contentHash: hash, contributor: body.contributor });
        kept.push({ api, id: contribution.id, contentHash: contribution.contentHash, title, points: contribution.points,
          receipt: contribution.receipt, operator, keptAt: now });
        outcomes.push({ title, contentHash: hash, state: "accepted", id: contribution.id, points: contribution.points,
          words: `Accepted as #${contribution.id}: ${contribution.points} points; receipt signed by the operator ${operator}` });
      } catch (error) {
        outcomes.push({ title, contentHash: hash, state: "refused", id: contribution.id, points: contribution.points,
          words: describeError(error) });
      }
    } else {
      outcomes.push({ title, contentHash: hash, state: "refused", id: null, points: "0",
        words: result.problem ? problemWords(result.problem) : `HTTP ${result.status}` });
    }
  });
  await keep(kept);
  return outcomes;
}
