// Preloaded with NODE_OPTIONS=--require <this file> before starting js-ipfs.
// Why: ipfs@0.66.1's dependencies (as npm resolves them today) call Promise.withResolvers, which
// Node only has from v22; this machine runs Node 20. Defines it only when missing (TC39 spec
// semantics: https://tc39.es/proposal-promise-with-resolvers/).
'use strict'
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function withResolvers () {
      let resolve
      let reject
      const promise = new this((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}
