// Package testenv gives tests the addresses of the real servers that
// scripts/test.sh starts (PostgreSQL, S3, Neo4j, KMS, Chromium, ...).
package testenv

import (
	"os"
	"testing"
)

// Require returns the value of the environment variable name, which a
// service script under scripts/services/ exports. When it is unset the
// test fails under CI (CI is set), because no adapter test may silently
// skip there, and is skipped elsewhere with a hint to run `make test`.
func Require(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not set: the test service that provides it did not start (run the suite with `make test`)", name)
	}
	t.Skipf("%s is not set; run `make test` to start the real test servers", name)
	return ""
}
