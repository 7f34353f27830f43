// Package capability is the org-namespaced capability graph: who holds
// which capability, directly or through team membership.
//
// The graph has four kinds of node (human, agent, team, capability) and
// three kinds of edge:
//
//   - holds: a human, agent or team holds a capability, optionally at a
//     level and until an expiry;
//   - member_of: a human or agent belongs to a team, or a team to a team;
//   - delegates: a human delegates to an agent (recorded for display and
//     routing; it does not pass capabilities on, delegation scope is the
//     passport package's concern).
//
// Two more node kinds, org and role, and two more edges complete the
// graph: has_role (human, agent, team or org -> role) and grants (role ->
// capability). Resolution walks member_of and has_role edges, and a path
// ends with a holds edge or a role's grants edge, e.g.
// "ann -member_of-> ops -has_role-> oncall -grants-> prod.deploy".
//
// Signed changes: [SignClaim] makes a [Claim] envelope and
// [Graph.ApplyClaim] verifies it (org, signature, issuer authority, replay
// through a [ClaimStore]) before writing its edge. Org-scoped claims need
// the org's key or a human holding [AdminCapability]; a [ClaimSkill] is
// signed only by the human it is about and names only [SkillPrefix]
// capabilities. [Graph.AddEvidence] attaches pointers to governed work (an
// approval's ledger index) to a holding, through an [EvidenceStore].
// [ClaimLister] and [EvidenceLister] enumerate both, so they move with the
// org (package bundle) and a claim applied before a migration stays spent.
//
// A [Store] only persists nodes and adjacency. The queries live here, once,
// in [Graph]: [Graph.Holds] answers "does S hold C, and by which path" and
// [Graph.Holders] answers "which humans in org O hold C". Both walk
// member_of edges transitively, are safe against membership cycles, ignore
// expired edges, and return deterministic results (breadth-first, neighbours
// in ID order, so the reported path is a shortest one).
//
// When the store is also a [GenerationStore] (a per-org write counter,
// bumped by every write from any process), [Graph] caches the transitive
// answers of Holders, HolderLevels and Members until the org's next write
// or the earliest expiry of an edge they relied on: repeated routing and
// "who can approve" questions cost one generation read.
//
// Every call is scoped to an org; nothing of one org is visible through
// another org's calls.
package capability
