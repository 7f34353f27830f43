package s3_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	humans3 "github.com/humanos/human/adapters/s3"
	"github.com/humanos/human/internal/testenv"
)

// testClient returns an S3 client for the versitygw that
// scripts/services/versitygw.sh started.
func testClient(t testing.TB) *awss3.Client {
	t.Helper()
	endpoint := testenv.Require(t, "HUMAN_TEST_S3_ENDPOINT")
	access := testenv.Require(t, "HUMAN_TEST_S3_ACCESS_KEY")
	secret := testenv.Require(t, "HUMAN_TEST_S3_SECRET_KEY")
	return awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(access, secret, ""),
	})
}

// newBucket creates a fresh bucket (with Object Lock when lock is set) and
// returns its name.
func newBucket(t testing.TB, c *awss3.Client, lock bool) string {
	t.Helper()
	var r [6]byte
	rand.Read(r[:])
	name := "human-test-" + hex.EncodeToString(r[:])
	in := &awss3.CreateBucketInput{Bucket: aws.String(name)}
	if lock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := c.CreateBucket(context.Background(), in); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// newTestBucket opens a Bucket over a fresh bucket, under a prefix so the
// prefix handling is exercised too.
func newTestBucket(t testing.TB, opts *humans3.Options) (*humans3.Bucket, *awss3.Client, string) {
	t.Helper()
	c := testClient(t)
	name := newBucket(t, c, opts != nil && opts.Retention > 0)
	if opts == nil {
		opts = &humans3.Options{Prefix: "tenant-1/human"}
	}
	b, err := humans3.Open(c, name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b, c, name
}

// TestURL opens the stores through the registry, as an app does.
func TestURL(t *testing.T) {
	c := testClient(t)
	name := newBucket(t, c, false)
	t.Setenv("AWS_ACCESS_KEY_ID", testenv.Require(t, "HUMAN_TEST_S3_ACCESS_KEY"))
	t.Setenv("AWS_SECRET_ACCESS_KEY", testenv.Require(t, "HUMAN_TEST_S3_SECRET_KEY"))
	u := "s3://" + name + "/p?endpoint=" + url.QueryEscape(testenv.Require(t, "HUMAN_TEST_S3_ENDPOINT")) + "&region=us-east-1"
	b, err := humans3.OpenURL(context.Background(), mustParse(t, u))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.PolicyStore().PutVersion(ctx, "acme", 1, []byte("doc")); err != nil {
		t.Fatal(err)
	}
	if n, err := b.PolicyStore().Latest(ctx, "acme"); err != nil || n != 1 {
		t.Fatalf("Latest = %d, %v", n, err)
	}
}

func mustParse(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
