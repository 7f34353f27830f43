// Package passport holds identities and signatures: keys and signature
// suites, DSSE envelopes, human passports rooted in a device key, agent
// passports, and delegation chains that only ever narrow.
//
// Trust comes from signatures, not from whoever runs the store: every
// passport, event and delegation is kept as the signed envelope it was
// created as, and is verified again whenever it is read.
//
// # Passports
//
// A passport is a log of events, each an [Envelope] of type
// [EventPayloadType]. Event 0, the inception ([NewInception]), declares the
// kind (human, agent or org), an optional display name and the keys, and is
// signed by every key it declares: a human passport exists only if the
// device holding its key signed it. The library never generates or holds a
// human's private key; it asks a [Signer] the caller controls.
//
// The DID is self-certifying: "did:human:" followed by the lowercase,
// unpadded base32 of the SHA-256 of the inception payload bytes ([Digest]).
// Anyone holding the inception can check it, and it stays the same when
// keys rotate.
//
// Later events carry the DID, their seq (1, 2, ...), prev (the Digest of the
// previous event's payload) and a created time, and are signed by a key
// current before them: [RotateKeys] replaces the keys, [AddDevice] and
// [RemoveDevice] add and remove one device's key, [SetGuardians] names the
// guardians, [RevokePassport] ends the passport. A new key always signs the
// event that introduces it (proof of possession). [Replay] verifies a log
// and derives the state; it rejects unsigned, mis-signed, out-of-order,
// back-dated and future-dated events, and event types it does not know.
// [Registry.AppendEvent] also rejects events created more than
// [MaxClockSkew] before now, so an event cannot be signed early and
// slipped in later.
//
// # Signature suites
//
// [SuiteEd25519] (RFC 8032 signatures, ZIP-215 verification: see below),
// [SuiteES256] (ECDSA P-256, DER signatures: AWS KMS, hardware tokens) and
// [SuiteWebAuthn] (passkeys). A passkey
// signature is a [WebAuthnAssertion] whose challenge is the SHA-256 of the
// envelope's PAE ([Envelope.Challenge]); the key carries its RP ID and
// whether user verification is required, so verifying it needs only the
// public key, like the other suites, through the same [Envelope.VerifiedBy]
// path. Package passport/passkey runs the WebAuthn ceremonies
// (registration, assertion, org policy) with go-webauthn.
//
// # Ed25519 verification rules
//
// Ed25519 signatures are verified under ZIP-215 (the rules Zcash adopted,
// github.com/hdevalence/ed25519consensus): the cofactored equation
// [8][S]B = [8]R + [8][k]A, any encoding of A and R that decodes to a
// curve point (non-canonical encodings and small-order points included),
// and S < L always (so no S+L malleability). RFC 8032 leaves these edge
// cases open and implementations disagree on them; ZIP-215 fixes one answer
// that single and batch verification both give on every input. That is what
// lets [Registry.VerifyChain] verify all the Ed25519 signatures of a cold
// chain (the events of every passport in it and every certificate) in one
// batch, and, only when the batch fails, verify them one by one to report
// the first bad one. The batch verifier is the package's own, on
// filippo.io/edwards25519: it merges the terms of signatures by the same
// key and decodes each key once, so the 7 signatures by 4 keys of a cold
// 3-link chain cost about 3.5 single verifications. [EnvelopeBatch] offers
// the same batch for any set of envelopes (a log export, say). Signatures
// made by any RFC 8032 signer verify unchanged. ES256 and WebAuthn
// signatures are always verified one by one.
//
// One departure from bare ZIP-215: an Ed25519 key of small order (one of
// the 8 torsion points, in any of its 14 encodings) is refused wherever a
// key is parsed, declared or used ([PublicKey.Validate],
// errs.ErrInvalidArgument), since under the cofactored equation such a key
// "signs" every message with R = identity and S = 0.
//
// # Guardian recovery
//
// A human who lost every device cannot sign anything, and no operator may
// sign for them. The passport may name guardians ([NewGuardedInception],
// [SetGuardians]): k of n human passports and a delay. [StartRecovery]
// names the new device key; at least k guardians co-sign the same
// statement with their own keys (current at its created time). It is then
// pending: any current key may [CancelRecovery] during the delay, after
// which the new key signs [CompleteRecovery] and becomes the passport's
// key, under the same DID. Org, agent and server keys never count as
// guardians, and every attempt, accepted or rejected
// ([AnchorRecoveryRejected]), is anchored on the ledger.

// # Delegations
//
// A [Delegation] is a certificate ([Delegate], type
// [DelegationPayloadType]) by which an issuer lets an agent act within a
// [Scope] between not-before and expiry. Its ID is "dlg:" + Digest(payload).
// A chain starts at a delegation issued by a human or org passport; each
// further link is issued by the previous link's subject (an agent
// sub-delegating), names that link as its parent, and lies within it: its
// actions and resources are covered by the parent's patterns, it keeps every
// parent limit at the same or a lower value, and its window lies inside the
// parent's. A [Revocation] ([Revoke]) by the issuer of a link, or by any
// issuer above it, stops that link and everything below it.
//
// # Registry and Store
//
// A [Registry] is the verified view over a [Store], which persists bytes
// only. Registry verifies every write before anchoring it (see [Anchor]) and
// storing it, and verifies again on every read, so rows written straight
// into a store without valid signatures fail everywhere.
// [Registry.VerifyChain] is on the hot path of every governed call: it
// re-reads passports, delegations and revocations from the store each call
// (so revocation takes effect at once) and caches only signature checks,
// keyed by the exact stored bytes and the issuer's key state.
//
// A rotation of an issuer's keys invalidates the delegations its old key
// signed: a delegation verifies only against the issuer's current keys,
// because a rotated-away (possibly stolen) key could otherwise sign
// back-dated certificates. Re-issue delegations after a rotation.
package passport
