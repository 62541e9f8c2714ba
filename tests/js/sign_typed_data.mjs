// Signs EIP-712 typed data with ethers' Wallet.signTypedData: an implementation we did not write.
// stdin: {"privateKey", "domain", "types" (without EIP712Domain), "message"}; stdout: the signature.
import { Wallet } from "ethers";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { privateKey, domain, types, message } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const wallet = new Wallet(privateKey);
process.stdout.write(await wallet.signTypedData(domain, types, message));
