package human_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/humanos/human"
	_ "github.com/humanos/human/adapters/neo4j"
	_ "github.com/humanos/human/adapters/s3"
	_ "github.com/humanos/human/adapters/snowflake"
	"github.com/humanos/human/internal/testenv"
)

// Profiles over the heavy adapters (issue 9): the other stores stay in a
// fresh SQLite file, and the overridden ones live on the real servers that
// scripts/services/{neo4j,versitygw}.sh start, in a fresh namespace or
// bucket per call.

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func sqliteBase(t testing.TB) human.Config {
	dir := t.TempDir()
	return human.Config{Store: "sqlite://" + filepath.ToSlash(filepath.Join(dir, "human.db")), DataDir: dir, ExpiryInterval: 50 * time.Millisecond}
}

// neo4jGraphURL is a neo4j:// URL in a fresh namespace of the test server.
func neo4jGraphURL(t testing.TB) string {
	u, err := url.Parse(testenv.Require(t, "HUMAN_TEST_NEO4J_URL"))
	if err != nil {
		t.Fatal(err)
	}
	return "neo4j://" + u.Host + "?namespace=" + randomName("scenario-")
}

var s3CredsOnce sync.Once

// s3BucketURL creates a fresh bucket on the test S3 server and returns its
// s3:// URL. The adapter takes credentials from the AWS default chain, so
// the test server's keys go into the environment (once, for the process).
func s3BucketURL(t testing.TB) string {
	endpoint := testenv.Require(t, "HUMAN_TEST_S3_ENDPOINT")
	access := testenv.Require(t, "HUMAN_TEST_S3_ACCESS_KEY")
	secret := testenv.Require(t, "HUMAN_TEST_S3_SECRET_KEY")
	s3CredsOnce.Do(func() {
		os.Setenv("AWS_ACCESS_KEY_ID", access)
		os.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	})
	c := awss3.New(awss3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, "")})
	bucket := randomName("scenario-")
	if _, err := c.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return "s3://" + bucket + "/human?region=us-east-1&endpoint=" + url.QueryEscape(endpoint)
}

// neo4jS3Profile: graph on Neo4j, policies and ledger on S3.
func neo4jS3Profile(t testing.TB) human.Config {
	t.Helper()
	cfg := sqliteBase(t)
	cfg.Graph = neo4jGraphURL(t)
	b := s3BucketURL(t)
	cfg.Policies, cfg.Ledger = b, b
	return cfg
}

// snowflakeLedgerProfile: the ledger on Snowflake (fakesnow in tests), in
// fresh tables per call; the other stores in SQLite.
func snowflakeLedgerProfile(t testing.TB) human.Config {
	t.Helper()
	addr := testenv.Require(t, "HUMAN_TEST_SNOWFLAKE_ADDR")
	os.Setenv("SF_DISABLE_MINICORE", "true")
	db, err := sql.Open("snowflake", "human:test@"+addr+"/?account=human&protocol=http")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS HUMAN", "CREATE SCHEMA IF NOT EXISTS HUMAN.PUBLIC"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	cfg := sqliteBase(t)
	cfg.Ledger = "snowflake://human:test@" + addr + "/HUMAN/PUBLIC?account=human&protocol=http&warehouse=HUMAN_WH&table_prefix=" + randomName("S_")
	return cfg
}
