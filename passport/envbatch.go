package passport

// EnvelopeBatch checks many envelopes' signatures together: the Ed25519
// signatures of all of them are verified in one batch, which costs a
// fraction of verifying them one by one, most when they share keys: 256
// envelopes by one key cost about a quarter of single verification per
// signature, 16 about 30% (BenchmarkEnvelopeBatch).
//
// What is checked is exactly what [Envelope.VerifiedBy] checks, through the
// same code: for each added (envelope, key), the first signature whose key
// ID is the key's (or is empty) over the envelope's PAE. Keys must be valid
// ([PublicKey.Validate]); ES256 and WebAuthn signatures, invalid keys and
// envelopes without a candidate signature are judged at once in Add.
// Ed25519 signatures are judged by the ZIP-215 rules in both modes, so
// batch and single verification agree on every input (see the package
// documentation).
//
// [EnvelopeBatch.Verify] answers true only if every added envelope passes
// VerifiedBy with its key, except with probability at most 2^-128 (the
// batch equation is a combination of the single equations with secret
// random 128-bit weights, so no set of bad signatures can cancel out). It
// answers false whenever one does not, and also for an envelope that
// carries, before a valid signature by the key, an invalid one naming the
// same key ID (VerifiedBy tries the next one; the batch does not). A false
// answer says nothing about WHICH envelope is bad: the caller re-checks
// them one by one with VerifiedBy, which names the first bad one with the
// usual error.
//
// The zero value is an empty batch. An EnvelopeBatch must not be copied
// after its first Add, nor used from several goroutines at once. Verify
// may be called again after more Adds; [EnvelopeBatch.Reset] empties the
// batch and keeps its memory for the next one.
type EnvelopeBatch struct {
	sb sigBatch
	n  int
	// bad is set when an Add was judged invalid at once.
	bad bool
}

// Add records env's signature by key. It keeps no reference to env or key
// once it returns, so the caller may reuse them. A nil env makes the batch
// fail.
func (b *EnvelopeBatch) Add(env *Envelope, key PublicKey) {
	b.n++
	if b.bad {
		return
	}
	if env == nil || env.verifiedBy(key, &b.sb) != nil {
		b.bad = true
	}
}

// Len is the number of envelopes added since the batch was created or
// Reset.
func (b *EnvelopeBatch) Len() int { return b.n }

// Verify reports whether every added envelope carries a valid signature by
// its key (see [EnvelopeBatch] for the exact contract). An empty batch
// holds.
func (b *EnvelopeBatch) Verify() bool {
	return !b.bad && b.sb.verify()
}

// Reset empties the batch, keeping its memory.
func (b *EnvelopeBatch) Reset() {
	b.n, b.bad = 0, false
	b.sb.v.reset()
}

// reset empties the batch, keeping the backing arrays of its entries and
// keys (and leaving them on the inline buffers when they fit there).
func (b *ed25519Batch) reset() {
	b.entries, b.keys, b.bad = b.entries[:0], b.keys[:0], false
}
