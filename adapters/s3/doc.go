// Package s3 keeps HUMAN's policy store and ledger store in an S3 bucket,
// through github.com/aws/aws-sdk-go-v2. It needs an S3 service with
// conditional writes (If-None-Match: * and If-Match on PutObject): AWS S3
// since 2024, and S3-compatible servers such as versitygw, on which its
// tests run. Apps import it for its side effect:
//
//	import _ "github.com/humanos/human/adapters/s3"
//
// or build a [Bucket] with [Open] over an *s3.Client they configure.
//
// # URLs
//
// "s3://BUCKET[/PREFIX]?OPTIONS" opens the policy store and the ledger
// store under PREFIX in BUCKET (other stores are left to another URL, e.g.
// HUMAN_POLICIES=s3://... and HUMAN_LEDGER=s3://...). Options:
//
//   - endpoint=URL: an S3-compatible endpoint (http://127.0.0.1:7070);
//     default AWS.
//   - region=NAME: default from the AWS configuration chain, else us-east-1.
//   - path_style=true|false: path-style bucket addressing; default true
//     with an endpoint, false without.
//   - retention=DURATION (e.g. 8760h): Object Lock in COMPLIANCE mode on
//     every immutable ledger object for that long (WORM audit retention);
//     the bucket must have Object Lock enabled.
//
// Any other option is an error. Credentials come from the AWS SDK's
// default chain (environment, shared config, instance or task role).
//
// # Layout and concurrency
//
// Policy versions are immutable objects written with If-None-Match: *;
// the active version is the highest of a chain of create-only activation
// records (compare-and-swap by racing for the next key; If-Match on a
// mutable pointer proved non-atomic on an S3-compatible server under
// concurrent writers, If-None-Match did not). The ledger's commit point is one immutable batch
// object per Append, created with If-None-Match: * at the log's current
// end; entry and node objects are written from it and a head hint is
// advanced with If-Match (a hint only: readers verify from the batches).
// Two writers can therefore never fork a log: see
// [LedgerStore]. Object keys escape org and log names, so names never
// collide or escape their prefix.
//
// [Bucket.ExportSink] is a ledger.ExportSink: `Log.Export` into it makes
// the bucket a static C2SP tlog-tiles log (checkpoint, tile/L/N,
// tile/entries/N) that any tlog-tiles reader verifies, e.g. with
// golang.org/x/mod/sumdb/tlog.
//
// # Required permissions
//
// On arn:aws:s3:::BUCKET/PREFIX*: s3:GetObject, s3:PutObject (conditional
// writes need no extra permission); on arn:aws:s3:::BUCKET: s3:ListBucket
// (policy Latest lists versions). With retention: s3:PutObjectRetention.
// The adapter never deletes: deny s3:DeleteObject to its role, and use
// Object Lock retention for WORM audit retention.
//
// # Errors
//
// A failed condition (412, or 409 for a concurrent conditional write) is
// errs.ErrConflict; a missing key errs.ErrNotFound; 403
// errs.ErrPermissionDenied; bad credentials errs.ErrUnauthenticated;
// network, throttling and 5xx errs.ErrUnavailable.
package s3
