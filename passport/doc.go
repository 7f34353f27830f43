// Package passport holds identities and signatures: keys and signature
// suites, DSSE envelopes, human passports rooted in a device key, agent
// passports, and delegation chains that only ever narrow.
//
// Trust comes from signatures, not from whoever runs the store: every
// passport, event and delegation is kept as the signed envelope it was
// created as, and is verified again whenever it is read.
package passport
