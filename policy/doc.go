// Package policy is the HUMAN policy engine: policy documents, CEL
// conditions, explainable decisions and versioned storage.
//
// # The policy language
//
// A policy document is YAML (JSON is YAML too). Unknown fields anywhere are
// errors, so a typo never silently weakens a policy:
//
//	policy: payments            # the policy's name (required)
//	rules:                      # evaluated in order; the order only breaks ties
//	  - id: small-payments      # unique; letters, digits, '_', '.', ':', '-'
//	    description: Agents may pay small invoices on their own.
//	    actions: ["payments.send"]          # required, glob patterns
//	    resources: ["invoice:*"]            # optional, default any resource
//	    condition: request.attributes.amount <= 100.0   # optional CEL, bool
//	    effect: allow                       # allow | deny | require_approval
//	  - id: large-payments
//	    actions: ["payments.*"]
//	    condition: double(request.attributes.amount) > 100.0
//	    effect: require_approval
//	    approval:                 # required with require_approval, else forbidden
//	      capability: finance.approver     # what each approver must hold
//	      quorum: 1                         # distinct approvers, 1..100, default 1
//	      timeout: 15m                      # Go duration, required, > 0
//	      on_timeout: deny                  # deny (default) | escalate
//	      allow_delegator: false            # may the agent's own delegator approve
//	      escalation:             # optional chain; giving it defaults on_timeout to escalate
//	        - capability: finance.director  # each step: capability or team, and its own timeout
//	          timeout: 1h
//	        - team: cfo-office
//	          timeout: 4h
//	      exclude: ["did:human:...", "contractors"]  # DIDs or teams that may never approve
//	  - id: daily-budget
//	    actions: ["payments.send"]
//	    effect: limit             # limit: adds limits, never allows or denies by itself
//	    limits:                   # allowed on allow, require_approval and limit rules
//	      - name: usd             # default "calls" (no amount) or "amount"
//	        per: agent            # agent (default) | requester | org
//	        amount: double(request.attributes.amount)  # CEL number; default 1 (a rate limit)
//	        max: 500
//	        window: 24h           # fixed windows aligned to the Unix epoch (UTC days)
//	  - id: frozen-accounts
//	    actions: ["payments.wire"]
//	    condition: holds(requester, "finance.frozen")
//	    effect: deny
//
// Patterns (see [MatchPattern]): "*" matches anything; a pattern ending in
// "*" matches by prefix ("payments.*" matches "payments.send", not
// "payments"); any other pattern matches exactly. A "*" elsewhere is an
// error.
//
// # Conditions
//
// Conditions are CEL expressions that must type-check to bool. They see:
//
//	request    map: action (string), resource (string), attributes (map of any)
//	agent      map: did (string), scope {actions: list, resources: list, limits: map(string, double)}
//	requester  string: DID of the human or org at the root of the agent's delegation
//	org        string
//	now        timestamp
//	holds(subject, capability) bool: asks the capability graph, through the
//	           engine's [Capabilities], with the evaluation's context
//
// Every condition is compiled and type-checked when the policy is compiled;
// a condition's runtime cost is bounded ([DefaultCostLimit], [WithCostLimit])
// and evaluation stops when the context is cancelled.
//
// # Decisions
//
// Rules whose actions, resources and condition all match take part:
//
//   - no rule matches: deny by default (the reason says so);
//   - any deny rule matches: deny (deny overrides everything);
//   - else any require_approval rule: approval is required; among several,
//     the strictest wins (largest quorum, then shortest timeout, then the
//     first in the document);
//   - else the first matching allow rule allows.
//
// A condition that fails at run time (a missing attribute, a wrong type, the
// cost limit) makes its rule not match, and the failure is listed in the
// Decision's Matched with Err set. The exception fails closed: a deny rule
// whose condition fails denies, because a deny rule exists to stop requests
// and an attacker must not be able to skip it by omitting an attribute. A
// holds() look-up that fails denies the whole request, whichever rule asked.
//
// Every [Decision] names the deciding rule, gives a one-sentence reason, and
// lists every rule that matched, with the policy version and digest.
//
// # Budgets and rate limits
//
// When the outcome is allow or require_approval, the limits of every
// matching rule become the Decision's Obligations, each with the request's
// amount. [Budgets.Charge] spends them in the [BudgetStore] in one atomic
// step, all or none: a request that would take any counter past its max is
// denied by that limit's rule, with a reason giving the use so far, and
// charges nothing. Denied requests spend nothing; a pending approval
// reserves its amount when it is asked for and keeps it whatever the
// humans decide, so a limit is never exceeded (at worst under-used). A
// limit whose amount does not evaluate to a number in [0, 1e12], or whose
// rule's condition fails, denies (fail closed): omitting an attribute never
// skips a budget. A budget store that cannot be reached is an error, never
// an allow.
//
// # Indexing and cost
//
// Rules are indexed by action when compiled: an evaluation looks only at
// the rules whose action patterns can match, so its cost grows with those,
// not with the size of the policy. A condition whose worst-case cost the
// CEL checker can bound below the limit runs without a runtime cost
// tracker; any other (one that iterates over request data) keeps it.
//
// # Signed changes and shadow evaluation
//
// A policy change is a [Change] signed by an admin ([SignChange]): a human
// holding [AdminCapability] or the org passport. It pins the version it was
// made against (Base), so it applies once ([Library.PublishAt],
// [Library.ActivateFrom]). A [Shadow] evaluates a candidate policy beside
// the active one on live traffic and counts the differences by rule, with
// samples.
//
// # Tests
//
// [ParseFixture] reads policy test files (see [Fixture]); "human policy
// test DIR" runs them.
//
// # Versions
//
// A [Library] keeps each org's documents in a [Store] as immutable, numbered
// versions; publishing stores the next version and activates it with a
// compare-and-swap, so concurrent publishers never overwrite each other.
// The active policy is served compiled from a cache.
package policy
