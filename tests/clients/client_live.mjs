// Signs and submits conversations with the Tally JS client to a live API, checks every receipt,
// and provokes the refusals a client must understand.
// stdin: {api, privateKey, single: [conversation], batch: [conversation], personal: conversation,
//         signedBatch: [canonical conversation]} (signedBatch's first is one of batch: a duplicate);
// stdout: JSON of outcomes.
import { Wallet } from "ethers";
import {
  checkReceipt, contentHash, contribute, fetchConfig, fetchTerms, publicFindings, signBatch, signContribution, submit,
  submitBatch,
} from "../../clients/js/tally-client.mjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { api, privateKey, single, batch, personal, signedBatch } = JSON.parse(Buffer.concat(chunks).toString("utf8"));

/** The named error an action ends with, or a note that it did not fail. */
async function caught(action) {
  try {
    await action();
    return { name: "no error" };
  } catch (error) {
    const out = { name: error.name, code: error.code };
    if (error.status !== undefined) out.status = error.status;
    if (error.existing !== undefined && error.existing !== null) out.existing = error.existing;
    if (error.problem?.findings !== undefined) out.findings = error.problem.findings;
    return out;
  }
}

const wallet = new Wallet(privateKey);
const out = { contributor: wallet.address };
try {
  const config = await fetchConfig(api);
  await fetchTerms(api, config);

  // One at a time, the whole flow of the extension.
  out.single = [];
  for (const conversation of single) {
    const { result } = await contribute(api, conversation, wallet);
    const { operator } = checkReceipt(config, result, { contentHash: contentHash(conversation), contributor: wallet.address });
    out.single.push({ contentHash: contentHash(conversation), result, receiptSigner: operator });
  }

  // Many, through the batch endpoint.
  const hashes = batch.map((c) => contentHash(c));
  const results = [];
  for (let i = 0; i < batch.length; i += config.limits.maxBatch) {
    const bodies = [];
    for (const conversation of batch.slice(i, i + config.limits.maxBatch)) {
      bodies.push(await signContribution(config, conversation, wallet));
    }
    results.push(...(await submitBatch(api, bodies)).results);
  }
  let receiptsChecked = 0;
  results.forEach((r, i) => {
    if (r.status !== 201) return;
    checkReceipt(config, r.contribution, { contentHash: hashes[i], contributor: wallet.address });
    receiptsChecked += 1;
  });
  out.batch = {
    accepted: results.filter((r) => r.status === 201).length,
    refused: results.filter((r) => r.status !== 201).length,
    problems: results.filter((r) => r.status !== 201).map((r) => r.problem),
    receiptsChecked,
    contentHashes: results.map((r) => r.contribution?.contentHash ?? null),
  };

  // Many under one ContributionBatch signature: one item a duplicate, refused alone.
  const signed = await signBatch(config, signedBatch, wallet);
  const answer = await submitBatch(api, signed);
  let batchConsentsChecked = 0;
  for (const r of answer.results) {
    if (r.status !== 201) continue;
    checkReceipt(config, r.contribution, { contributor: wallet.address });
    batchConsentsChecked += 1;
  }
  out.signedBatch = {
    accepted: answer.accepted, refused: answer.refused, statuses: answer.results.map((r) => r.status),
    codes: answer.results.map((r) => r.problem?.type ?? null), batchConsentsChecked,
    contentsRoots: [...new Set(answer.results.filter((r) => r.status === 201)
      .map((r) => r.contribution.consent.batch.contentsRoot))],
  };
  // The same signed batch again: its nonce is used, the whole request refused.
  out.signedBatchReplay = await caught(() => submitBatch(api, signed));
  // An accepted item whose proof was tampered with: its batch consent no longer covers it.
  const accepted = answer.results.find((r) => r.status === 201).contribution;
  out.tamperedBatchProof = await caught(() => {
    const copy = structuredClone(accepted);
    copy.consent.batch.proof[0] = `0x${"ab".repeat(32)}`;
    checkReceipt(config, copy);
  });
  out.otherContributorsBatch = await caught(async () => {
    const copy = structuredClone(accepted);
    const other = await signBatch(config, signedBatch, Wallet.createRandom(), { nonce: signed.nonce, issuedAt: signed.issuedAt });
    copy.consent.signature = other.signature;
    checkReceipt(config, copy);
  });

  // The same conversation again, freshly signed: a 409 naming the first.
  out.duplicate = await caught(() => contribute(api, single[0], wallet));

  // Consent to one conversation sent with another.
  const fresh = (/** @type {string} */ word) => ({
    messages: [{ role: "user", content: `${word} ${wallet.address} ${Date.now()}` }, { role: "assistant", content: "ok" }],
  });
  out.swappedConversation = await caught(async () => {
    const body = await signContribution(config, fresh("signed"), wallet);
    await submit(api, { ...body, conversation: fresh("sent") });
  });

  // Receipts that must not check out.
  const first = out.single[0].result;
  out.tamperedPoints = await caught(() => {
    const copy = structuredClone(first);
    copy.points = copy.receipt.message.points = String(BigInt(first.points) + 1n);
    checkReceipt(config, copy);
  });
  out.foreignReceipt = await caught(async () => {
    const copy = structuredClone(first);
    const { EIP712Domain, ...types } = config.eip712.receipt.types;
    copy.receipt.signature = await wallet.signTypedData(config.eip712.domain, types, copy.receipt.message);
    checkReceipt(config, copy);
  });
  out.otherTerms = await caught(() => fetchTerms(api, { ...config, termsHash: `0x${"00".repeat(32)}` }));
  out.refusedLocally = await caught(() =>
    signContribution(config, { messages: [{ role: "robot", content: "x" }] }, wallet));

  // Personal data: refused as it is (the server runs the same detector), accepted redacted, which
  // is what contribute signs and sends.
  out.personalAsIs = await caught(async () => submit(api, await signContribution(config, personal, wallet)));
  const redacted = await contribute(api, personal, wallet);
  out.personalRedacted = {
    contentHash: redacted.result.contentHash, cid: redacted.result.cid, findings: publicFindings(redacted.findings),
    signedHash: contentHash(redacted.body.conversation),
  };
} catch (error) {
  out.failure = String(error?.stack ?? error);
}
process.stdout.write(JSON.stringify(out));
