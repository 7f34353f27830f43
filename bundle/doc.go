// Package bundle moves the whole state of one org between deployments: a
// signed, versioned directory (the bundle) that Export writes from any
// set of stores and Import writes into any other, so that changing a
// deployment profile (hosted, hybrid, self-hosted) or a backend is a
// configuration change plus one export and one import.
//
// # Format (version 1)
//
// A bundle is a directory:
//
//	manifest.json       Manifest: format, version, org, ledger origin, keys,
//	                    the signed checkpoint, per-kind counts, and the
//	                    SHA-256 and size of every other file
//	manifest.sig        a DSSE envelope (payload type PayloadType) whose
//	                    payload is manifest.json's exact bytes, signed by
//	                    the org signer, the key that signs the ledger
//	passports.jsonl     {"did", "events": [DSSE envelope, ...]} per passport
//	delegations.jsonl   {"id", "env"} per delegation certificate
//	revocations.jsonl   {"id", "env"} per revocation
//	nodes.jsonl         capability.Node per line
//	edges.jsonl         capability.Edge per line
//	policies.jsonl      {"version", "doc"} per stored policy version
//	tasks.jsonl         workforce.Task per line (pending and finished)
//	budgets.jsonl       policy.Counter per line
//	capability_claims.jsonl    capability.ClaimRecord ({"id", "digest"}) per
//	                    applied signed claim, by ID
//	capability_evidence.jsonl  capability.EvidenceRecord ({"subject",
//	                    "capability", "kind", "ref", "task", "at"}) per
//	                    evidence pointer, by (subject, capability, ref)
//	ledger/             the org's log as C2SP tlog-tiles (ledger.Log.Export)
//	                    at the manifest's checkpoint
//
// Signed bytes (passport events, delegations, revocations, attestations,
// votes) travel exactly as stored; nothing is re-encoded, so every
// signature made before the move verifies after it. Lines are written in
// the stores' listing order, so two exports of unchanged state are
// byte-identical apart from Created.
//
// # Claim records and evidence
//
// A signed capability claim applies at most once per org: the graph store
// records its ID (capability.ClaimStore). The record travels in the bundle
// and is imported as it was, so a claim applied before a move, whose edge
// was removed since, is refused as a replay (errs.ErrConflict) after it.
// Export needs capability.ClaimLister on a graph store that keeps claims,
// and Import refuses (errs.ErrFailedPrecondition, before any write) a
// bundle with claim records for a destination graph store that keeps none:
// dropping them would reopen the replay once the org moves on to a store
// that applies claims.
//
// Evidence pointers (capability.EvidenceStore, listed through
// capability.EvidenceLister) are imported through the store as they were,
// not through capability.Graph.AddEvidence: evidence records work done
// while a holding existed and stays when the holding is later removed, so
// "the subject holds the capability now" is no condition for moving it.
// A destination graph store that keeps no evidence imports the rest of
// the bundle; ImportReport.Skipped counts the evidence left out.
//
// These two parts came after the first bundles without a version change:
// a bundle that does not list them reads as one with none (its counts
// absent, 0). A build older than them refuses a bundle carrying claim
// records or evidence (its per-kind counts do not match: a fail-closed
// errs.ErrUnauthenticated) and imports one with none.
//
// # Keys
//
// The org signer's private key never enters a bundle (and there are no
// human keys anywhere: they live on devices). The destination continues
// the same log, so it must sign with the same org key: copy the org key
// file (HUMAN_ORG_KEY_FILE) or point both deployments at the same KMS key.
// Import refuses a bundle whose signer is not the destination's org key.
//
// # Verification and import
//
// Verify checks, before anything is written: the format and version (a
// newer version is refused), the manifest signature and that its key is
// the ledger's, that every file is listed with its hash and size and no
// listed file is missing or changed (the error names the file) and no
// unlisted file is present, the ledger tiles (every entry signed, the
// tree recomputed and equal to the signed checkpoint), every passport log
// replayed with its signatures, every delegation and revocation signed by
// a key its issuer held, claim records and evidence well-formed and in
// listing order (so none is listed twice), and the per-kind counts.
// Import runs Verify, then checks the destination: its log must be empty
// or a prefix of the bundle's (same origin, same tree at its size), and
// its stores must hold nothing that contradicts the bundle (a claim ID
// with another digest, evidence with the same ref but another kind, task
// or time included). Only then does it write, in an order that keeps
// every reference valid (ledger, passports, delegations, revocations,
// graph, claim records and evidence, policies, tasks, budgets). Each
// write is idempotent, so an interrupted import is finished by running it
// again, and a completed one re-run changes nothing.
//
// # Streaming
//
// Export and Import hold one page of records (and one ledger tile) at a
// time, so memory stays flat as an org grows; Verify keeps the key
// history of each passport (not its events) to check delegations.
//
// # Consistency of a live export
//
// Export reads the stores first and takes the ledger checkpoint last, so
// every exported passport event, delegation and decision is inside the
// exported tree. Writes racing an export may leave ledger entries whose
// store rows are not in the bundle; re-running export then import brings
// them over (import is idempotent). For an exact cut, stop writers first.
package bundle
