package passport

// Ed25519BatchForTest exposes the package's Ed25519 batch verifier to the
// external tests and benchmarks.
type Ed25519BatchForTest struct{ b ed25519Batch }

// Add records a signature.
func (t *Ed25519BatchForTest) Add(pub, msg, sig []byte) { t.b.add(pub, msg, sig) }

// Verify reports whether every recorded signature is valid.
func (t *Ed25519BatchForTest) Verify() bool { return t.b.verify() }

// SmallOrderEd25519ForTest is every encoding of a small-order Ed25519 point.
var SmallOrderEd25519ForTest = smallOrderEd25519
