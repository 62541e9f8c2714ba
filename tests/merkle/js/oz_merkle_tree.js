// Reference side of tests/merkle/test_standard_js.py: runs @openzeppelin/merkle-tree on the cases
// it reads as JSON from stdin and writes what the library computes as JSON to stdout.
//
// Input:  {"cases": [{"values": [...], "encoding": [...], "sortLeaves": bool, "dump": <our dump>,
//                     "sample": [value indexes]}]}
// Output: [{"root", "proofs": [[hex...] for every value], "sampleProofs": [[hex...]], "dump",
//           "load": {"ok", "error", "root", "verified"}}]
//
// "proofs" come from the library's core.getProof, which tree.getProof wraps with a sanity check
// that re-hashes the whole path; that check is most of the time of a large tree, so the public
// tree.getProof (and the static verify on the loaded dump) run only on the "sample".
'use strict';
const fs = require('fs');
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');
const core = require('@openzeppelin/merkle-tree/dist/core');

const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const out = input.cases.map((c) => {
  const tree = StandardMerkleTree.of(c.values, c.encoding, { sortLeaves: c.sortLeaves });
  const result = {
    root: tree.root,
    proofs: tree.values.map(({ treeIndex }) => core.getProof(tree.tree, treeIndex)),
    sampleProofs: c.sample.map((i) => tree.getProof(i)),
    dump: JSON.stringify(tree.dump()),
  };
  try {
    const loaded = StandardMerkleTree.load(c.dump);
    result.load = {
      ok: true,
      root: loaded.root,
      // The static verifier, as a claim contract or an outside checker uses it.
      verified: c.sample.every((i) =>
        StandardMerkleTree.verify(loaded.root, c.encoding, c.values[i], loaded.getProof(i)),
      ),
    };
  } catch (e) {
    result.load = { ok: false, error: String(e) };
  }
  return result;
});
process.stdout.write(JSON.stringify(out));
