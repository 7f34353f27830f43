// Package ledger is HUMAN's tamper-evident ledger: every decision,
// approval and identity change becomes a signed attestation appended to
// the org's own append-only Merkle log, and anyone holding the log's
// public key can check, offline, that a record is in the log and that the
// log was never rewritten.
//
// # Attestations
//
// An attestation is an in-toto Statement v1 (subjects pinned by digest, a
// predicate type such as PredicateDecision, a JSON predicate) inside a DSSE
// envelope signed by the org signer. Log.Attest signs and queues one;
// ParseAttestation decodes a log entry back.
//
// # The log
//
// Each org has one Log: an RFC 6962 Merkle tree (hashing and proofs from
// github.com/transparency-dev/merkle) whose tree heads are C2SP
// tlog-checkpoint signed notes (golang.org/x/mod/sumdb/note). Appends are
// group-committed: Submit queues an entry and returns at once; a single
// sequencer per Log writes each batch with one Store.Append (a
// compare-and-swap on the tree size) and one checkpoint signature, then
// answers every Pending with a Receipt. If another Log (another process on
// the same SQLite file, say) appended first, the sequencer reloads the head
// and re-sequences the batch, so the log stays linear.
//
// # Verification
//
// The package owns every hash and proof; a Store only persists. Reads
// verify: Log.Receipt and Log.Entry check the inclusion proof against the
// signed checkpoint, Log.Verify recomputes the whole tree. Offline,
// VerifyReceipt needs only the verifier (NewVerifier of the published
// Log.VerifierKey), and VerifyConsistency shows a newer checkpoint extends
// an older one, which is how a fork (two trees for one size) is caught.
// Receipts encode as C2SP tlog-proof text (Receipt.MarshalText,
// ParseReceipt).
//
// # Query
//
// Log.Query selects attestations by kind (predicate type), org, actor,
// action, subject and time range, a page at a time with an opaque cursor,
// each result optionally with its receipt against the latest checkpoint.
// The ledger extracts each attestation's Fields (IndexFields) from the
// signed statement when it is appended; a store that implements the
// optional IndexStore persists them in the same transaction as the entries
// and answers Find, and over a plain Store Query scans. Either way every
// result is re-checked from its signed bytes before it is returned.
//
// # Export
//
// Log.Export writes a range of the log as a C2SP tlog-tiles tree (hash
// tiles, entry bundles, the signed checkpoint, the verifier key) to an
// ExportSink such as DirSink, streaming; VerifyExport checks such a tree
// offline and names the first bad index (EntryError). It verifies the
// entries' signatures a bundle at a time in one batch
// (passport.EnvelopeBatch), and one by one only in a batch that fails, so
// the first bad index and its error are what one-by-one checking reports.
// The tiles are what
// golang.org/x/mod/sumdb/tlog and other tlog-tiles clients read; see
// docs/ledger.md for the layout and a third party's check.
//
// # Witnessing and anchoring
//
// A Witness (C2SP tlog-witness semantics) cosigns a log's checkpoint only
// after verifying a consistency proof from the last checkpoint of that log
// it cosigned, so it never cosigns a fork or a smaller tree; its state is
// a log of its own in a Store, advanced by compare-and-swap. Its
// cosignatures are C2SP tlog-cosignature (cosignature/v1, Ed25519,
// timestamped) note signatures: Log.Cosign collects them, and a Policy
// (the log's key plus k of n witness keys) checks them where a bare
// verifier would (Policy.VerifyReceipt, VerifyExportOptions.Policy).
// Log.Anchor and Log.AnchorIn record one log's checkpoint as a
// PredicateAnchor attestation in another log; VerifyAnchor checks such a
// receipt offline and returns the anchored checkpoint.
package ledger
