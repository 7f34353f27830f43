// Package workforce routes approval tasks to the humans who hold the
// required capability, verifies their signed decisions, counts quorum and
// times tasks out.
//
// A [Queue] opens a [Task] for a [Spec] (what the policy engine asked for):
// the candidates are the holders of the capability, never the requesting
// agent, and never the human at the root of the agent's delegation unless
// the spec allows it. Zero eligible candidates (or fewer than the quorum)
// is errs.ErrFailedPrecondition at Open: the caller denies, failing closed.
//
// Approvers decide by signing the task's digest with their passport key
// ([SignVote]) into a DSSE envelope of type [VoteType]. [Queue.Decide]
// accepts a vote only if it verifies under the approver's current keys, is
// for this task and this exact content (the digest), comes from a candidate
// who still holds the capability, and is the approver's first vote. Quorum
// is the number of distinct approvers who approved. Any valid deny denies
// the task at once: one qualified "no" is enough to stop an action, so the
// queue fails closed. A task whose deadline passes while pending resolves
// as [TimedOut], which is distinct from [Denied] and never lets the action
// proceed.
//
// Stores only persist tasks and compare-and-swap them on Task.Version, so
// two processes deciding on one task at once never lose a vote. The queue
// re-checks what it reads: the digest is recomputed from the task content,
// and every stored vote's signature is verified again, so a task edited or
// inserted directly in a store does not verify.
//
// Task events reach people through a [Notifier]; package
// workforce/notify has a signed webhook and a Slack-compatible message
// whose links open the inbox's signing page. See docs/workforce.md.
package workforce
