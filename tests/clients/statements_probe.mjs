// The JS client's signed statements against a live server: a contribution signed and submitted,
// then published by its contributor (signPublish), liked by another key (signEngage) and, as
// vectors for Python to check, an Enrol (signEnrol); and a wallet that reports one account but
// signs with another, caught by every signing function before anything is sent. stdin {api,
// contributorKey, likerKey, conversation, nonce}; stdout what the server answered, the bodies
// signed and the errors of the lying wallet.
import { Wallet } from "ethers";
import {
  ENGAGE_LIKE, contribute, engage, fetchConfig, getContribution, publish, signBatch, signContribution, signEngage,
  signEnrol, signPublish,
} from "../../clients/js/tally-client.mjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const contributor = new Wallet(input.contributorKey);
const liker = new Wallet(input.likerKey);
const { result } = await contribute(input.api, input.conversation, contributor, { nonce: input.nonce });
const config = await fetchConfig(input.api);
const publishBody = await signPublish(config, { contentHash: result.contentHash, visible: true }, contributor);
const published = await publish(input.api, result.contentHash, publishBody);
const likeBody = await signEngage(config, { contentHash: result.contentHash, kind: ENGAGE_LIKE }, liker);
const liked = await engage(input.api, result.id, likeBody);
let refused = null;
try {
  await engage(input.api, result.id, await signEngage(config, { contentHash: result.contentHash, kind: ENGAGE_LIKE },
    contributor));
} catch (error) {
  refused = { status: error.status, code: error.code };
}
const enrolBody = await signEnrol(config, "weekly-minimum", liker, { nonce: 7, issuedAt: 1_790_000_000 });
// Reports the contributor's address, signs with the liker's key.
const liar = { getAddress: async () => contributor.address,
  signTypedData: (domain, types, message) => liker.signTypedData(domain, types, message) };
const lies = {};
for (const [name, sign] of Object.entries({
  Contribution: () => signContribution(config, input.conversation, liar),
  ContributionBatch: () => signBatch(config, [input.conversation], liar),
  Publish: () => signPublish(config, { contentHash: result.contentHash, visible: false }, liar),
  Engage: () => signEngage(config, { contentHash: result.contentHash, kind: ENGAGE_LIKE }, liar),
  Enrol: () => signEnrol(config, "weekly-minimum", liar),
})) {
  try {
    await sign();
    lies[name] = null;
  } catch (error) {
    lies[name] = error.message;
  }
}
const feedItem = await (await fetch(`${input.api}/v1/feed/${result.id}`)).json();
process.stdout.write(JSON.stringify({ contribution: result, publishBody, published, likeBody, liked, refused,
  enrolBody, lies, feedItem, after: await getContribution(input.api, result.id) }));
