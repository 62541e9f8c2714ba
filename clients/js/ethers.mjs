// The one place where the Tally client names its ethers.
// Under node this resolves the npm package; the extension build (extension/build.mjs) writes its
// own ethers.mjs next to the client that re-exports a vendored copy of ethers' ES module bundle,
// because extension pages cannot resolve bare specifiers (and MV3 forbids inline import maps).
export * from "ethers";
