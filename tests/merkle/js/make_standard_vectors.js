// Writes tests/merkle/testdata/standard_balances.json: balances trees built by
// @openzeppelin/merkle-tree itself (the reference), for tests that must not depend on our code
// or on node being installed. Run from the repository root: node tests/merkle/js/make_standard_vectors.js
'use strict';
const fs = require('fs');
const path = require('path');
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');

const MAX = (2n ** 256n - 1n).toString();
const A = (byte) => '0x' + byte.repeat(20);
const cases = [
  { name: 'one account', values: [[A('11'), '7']] },
  { name: 'two accounts', values: [[A('11'), '7'], [A('22'), '0']] },
  { name: 'three accounts: a leaf paired with an inner node', values: [[A('aa'), '1'], [A('bb'), '2'], [A('cc'), '3']] },
  {
    name: 'edge amounts and a duplicate leaf (ties keep input order)',
    values: [[A('01'), '0'], [A('02'), MAX], [A('03'), '1'], [A('01'), '0'], [A('ff'), '18446744073709551616'],
      [A('00'), '79228162514264337593543950335'], [A('7f'), '2']],
  },
  {
    name: 'unsorted leaves',
    sortLeaves: false,
    values: [[A('01'), '5'], [A('02'), '4'], [A('03'), '3'], [A('04'), '2'], [A('05'), '1']],
  },
];
const out = cases.map((c) => {
  const tree = StandardMerkleTree.of(c.values, ['address', 'uint256'], { sortLeaves: c.sortLeaves !== false });
  return {
    name: c.name,
    sortLeaves: c.sortLeaves !== false,
    values: c.values,
    root: tree.root,
    proofs: c.values.map((_, i) => tree.getProof(i)),
    dump: tree.dump(),
  };
});
const file = path.join(__dirname, '..', 'testdata', 'standard_balances.json');
fs.writeFileSync(file, JSON.stringify({
  generator: 'tests/merkle/js/make_standard_vectors.js with @openzeppelin/merkle-tree ' +
    require('@openzeppelin/merkle-tree/package.json').version,
  cases: out,
}, null, 1) + '\n');
