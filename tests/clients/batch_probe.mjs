// The JS client's ContributionBatch against the vectors (tests/formats/golden/batch-consent.json)
// and against @openzeppelin/merkle-tree itself.
// stdin: {vectors, config, random: [[contentHash...]...]}; stdout: JSON of what differed and counts.
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { Wallet } from "ethers";
import {
  batchItemProof, BatchConsentError, checkBatchConsent, contentHash, contentsRoot, signBatch,
} from "../../clients/js/tally-client.mjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { vectors, config, random } = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const failures = [];
const same = (what, a, b) => {
  if (JSON.stringify(a) !== JSON.stringify(b)) failures.push(`${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
};
const key = (n) => `0x${n.toString(16).padStart(64, "0")}`;
/** A contribution as the API answers it, for the batch item at `index`. */
const resultOf = (item) => ({
  contentHash: item.contentHash, contributor: item.message.contributor,
  consent: { nonce: item.message.nonce, issuedAt: item.message.issuedAt, termsHash: item.message.termsHash,
             signature: item.signature,
             batch: { contentsRoot: item.message.contentsRoot, count: item.message.count, proof: item.proof } },
});

let items = 0;
for (const batch of [...vectors.batches, vectors.reordered]) {
  const hashes = batch.conversations.map((c) => contentHash(c));
  same(`${batch.name} contentHashes`, hashes, batch.contentHashes);
  same(`${batch.name} root`, contentsRoot(hashes), batch.contentsRoot);
  const library = StandardMerkleTree.of(hashes.map((h) => [h]), ["bytes32"]);
  same(`${batch.name} root (library)`, library.root, batch.contentsRoot);
  const body = await signBatch(config, batch.conversations, new Wallet(key(batch.signer)),
    { nonce: batch.message.nonce, issuedAt: batch.message.issuedAt });
  same(`${batch.name} signature`, body.signature, batch.signature);
  same(`${batch.name} body`, [body.contributor, body.count, body.nonce, body.issuedAt, body.termsHash],
    [batch.message.contributor, batch.message.count, batch.message.nonce, batch.message.issuedAt, config.termsHash]);
  hashes.forEach((hash, i) => {
    same(`${batch.name} proof ${i}`, batchItemProof(hashes, i), batch.proofs[i]);
    same(`${batch.name} proof ${i} (library)`, library.getProof(i), batch.proofs[i]);
    checkBatchConsent(config, resultOf({ contentHash: hash, proof: batch.proofs[i], message: batch.message,
                                         signature: batch.signature }));
    items += 1;
  });
}

const refused = vectors.adversarial.map((item) => {
  try {
    checkBatchConsent(config, resultOf(item));
    return { name: item.name, error: "none" };
  } catch (error) {
    return { name: item.name, error: error instanceof BatchConsentError ? error.code : String(error) };
  }
});

// Random batches: the client's roots and proofs are the library's, and Python gets them to compare.
const roots = random.map((hashes) => {
  const library = StandardMerkleTree.of(hashes.map((h) => [h]), ["bytes32"]);
  same(`random batch of ${hashes.length}`, contentsRoot(hashes), library.root);
  hashes.forEach((_, i) => same(`random batch of ${hashes.length}, proof ${i}`, batchItemProof(hashes, i),
    library.getProof(i)));
  return contentsRoot(hashes);
});

process.stdout.write(JSON.stringify({ failures, items, refused, roots }));
