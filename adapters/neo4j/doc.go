// Package neo4j keeps HUMAN's capability graph (capability.Store and
// capability.BulkStore, with its claim record and evidence) in Neo4j 5
// (Community or Enterprise, 5.26 LTS is what its tests run against),
// through github.com/neo4j/neo4j-go-driver/v5. Apps import it for its
// side effect:
//
//	import _ "github.com/humanos/human/adapters/neo4j"
//
// or build a [Store] with [Open] over a driver they configure.
//
// # URLs
//
// "neo4j://[USER:PASSWORD@]HOST[:PORT]?OPTIONS", and the same with the
// driver's other schemes: neo4j+s, neo4j+ssc (routing, with TLS), bolt,
// bolt+s, bolt+ssc (one server). Without USER the driver connects with no
// authentication. It opens the capability graph only; pair it with
// another URL for the other stores (HUMAN_GRAPH=neo4j://...). Options:
//
//   - database=NAME: the database (default: the server's default).
//   - namespace=NAME: keeps this deployment's nodes apart from others'
//     in a shared database (default none).
//
// Any other option is an error.
//
// # Model
//
// Each node is (:HumanNode {key, ns, org, id, kind, name}); key joins the
// namespace, org and ID with length prefixes and carries the uniqueness
// constraint human_node_key, which Open creates if it is missing. Edges
// are relationships HOLDS, MEMBER_OF and DELEGATES with level, expires
// (Unix nanoseconds, 0 = never) and issuer, so the graph can be explored
// with Cypher directly, e.g. everyone holding a capability transitively:
//
//	MATCH (s:HumanNode)-[:MEMBER_OF*0..]->(:HumanNode)-[:HOLDS]->(c:HumanNode {org: 'acme', id: 'finance.approver'})
//	RETURN DISTINCT s.id
//
// (the governed answer, with expiry and kinds checked, is always
// capability.Graph's: the store keeps adjacency only). The traversal runs
// level by level through [Store.InMany], one query per level.
//
// Applied signed claims (capability.ClaimStore) are (:HumanClaim {key, ns,
// org, id, digest}) under the constraint human_claim_key, so a claim ID
// is recorded once per org even against concurrent callers. Evidence
// pointers (capability.EvidenceStore) are (:HumanEvidence {key, ns, org,
// subject, capability, ref, kind, task, at_s, at_ns}) under
// human_evidence_key, indexed by holding (human_evidence_holding) and
// linked to no node, so they stay when the holding is removed. Both are
// listed for package bundle (capability.ClaimLister,
// capability.EvidenceLister) in the string order of Store.ListNodes.
//
// # Required permissions
//
// A role with read and write access to the database (Enterprise: the
// built-in "editor" role), plus, the first time, the schema privilege to
// create the constraints and the index (the "architect" role, or an
// admin running Open once). Community Edition has no roles: any authenticated user can.
//
// # Errors
//
// Constraint violations are errs.ErrConflict; authentication failures
// errs.ErrUnauthenticated; other security errors
// errs.ErrPermissionDenied; other client errors errs.ErrInvalidArgument;
// connectivity, transient and database errors errs.ErrUnavailable.
package neo4j
