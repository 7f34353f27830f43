package passport

// sigBatch is how one verification checks Ed25519 signatures. A nil
// *sigBatch checks each signature at once; a non-nil one ("collect mode")
// records each Ed25519 (key, message, signature) it is asked about,
// answers "valid", and checks them all together in [sigBatch.verify].
// Other suites are always checked at once.
//
// The verification code is the same in both modes, so it stays the one
// statement of what is checked. A check in collect mode answers "valid"
// exactly when it records a signature (an envelope signature whose key ID
// matches), and "invalid" exactly when immediate mode would find no
// candidate either. So when the batch holds, every recorded signature is
// valid, every answer was the one immediate mode gives, and the result,
// success or error, is the immediate result. When the batch fails, the
// caller runs the verification again with a nil *sigBatch, which names the
// first bad signature with the usual error. ZIP-215 rules make single and
// batch verification agree on every input (see doc.go).
//
// Nothing verified in collect mode may be cached before the batch holds:
// passports replayed and link signatures checked wait in the batch, and
// [Registry.commit] publishes them afterwards.
type sigBatch struct {
	v ed25519Batch
	// passports are the passports replayed in this verification, by org
	// and DID: each is read and replayed once per verification, and
	// reaches the Registry's cache only once the batch holds.
	passports map[cacheKey]*passportEntry
	// signed are link signatures checked in this verification.
	signed []signedLink
}

type signedLink struct {
	e      *linkEntry
	issuer *Passport
}

func newSigBatch() *sigBatch {
	return &sigBatch{passports: make(map[cacheKey]*passportEntry, 4)}
}

// add records an Ed25519 check and reports true, or reports false when b
// is nil and the caller must verify at once.
func (b *sigBatch) add(key, message, sig []byte) bool {
	if b == nil {
		return false
	}
	b.v.add(key, message, sig)
	return true
}

// verify reports whether every recorded signature is valid (true for none).
func (b *sigBatch) verify() bool {
	return b.v.verify()
}
