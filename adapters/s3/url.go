package s3

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/humanos/human/adapters"
	"github.com/humanos/human/errs"
)

func init() { adapters.Register("s3", openURL) }

// URLConfig is what an s3:// URL says (see the package doc, # URLs).
type URLConfig struct {
	Bucket    string
	Endpoint  string // "" for AWS's own
	Region    string // "" for the default chain's
	PathStyle bool
	Options   Options
}

// ParseURL reads an s3://BUCKET[/PREFIX]?OPTIONS store URL. An unknown or
// repeated option, or a bad value, is errs.ErrInvalidArgument.
func ParseURL(u *url.URL) (*URLConfig, error) {
	if u.Scheme != "s3" || u.Host == "" || u.Opaque != "" || u.User != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "s3 URL %q: want s3://BUCKET[/PREFIX][?OPTIONS]", u.Redacted())
	}
	c := &URLConfig{Bucket: u.Host, Options: Options{Prefix: strings.TrimPrefix(u.Path, "/")}}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "s3 URL %q: %v", u.Redacted(), err)
	}
	pathStyle := ""
	for k, vs := range q {
		if len(vs) != 1 {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "s3 URL %q: option %q given %d times", u.Redacted(), k, len(vs))
		}
		v := vs[0]
		switch k {
		case "endpoint":
			e, err := url.Parse(v)
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
				return nil, errs.Errorf(errs.ErrInvalidArgument, "s3 URL %q: endpoint %q is not an http(s) URL", u.Redacted(), v)
			}
			c.Endpoint = v
		case "region":
			c.Region = v
		case "path_style":
			if v != "true" && v != "false" {
				return nil, errs.Errorf(errs.ErrInvalidArgument, "s3 URL %q: path_style=%q (want true or false)", u.Redacted(), v)
			}
			pathStyle = v
		case "retention":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, errs.Errorf(errs.ErrInvalidArgument, "s3 URL %q: retention=%q is not a positive duration", u.Redacted(), v)
			}
			c.Options.Retention = d
		default:
			return nil, errs.Errorf(errs.ErrInvalidArgument, "s3 URL %q: unknown option %q (known: endpoint, region, path_style, retention)", u.Redacted(), k)
		}
	}
	// A custom endpoint (versitygw, MinIO-compatible servers) rarely has
	// virtual-hosted bucket names; AWS itself prefers them.
	c.PathStyle = pathStyle == "true" || (pathStyle == "" && c.Endpoint != "")
	return c, nil
}

// OpenURL opens the Bucket an s3:// URL names. Credentials and, unless the
// URL sets one, the region come from the AWS SDK's default chain
// (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance
// role, ...). It does not contact S3.
func OpenURL(ctx context.Context, u *url.URL) (*Bucket, error) {
	c, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	var lo []func(*config.LoadOptions) error
	if c.Region != "" {
		lo = append(lo, config.WithRegion(c.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "s3 URL %q: AWS configuration: %v", u.Redacted(), err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = c.PathStyle
	})
	return Open(client, c.Bucket, &c.Options)
}

func openURL(ctx context.Context, u *url.URL) (*adapters.Stores, error) {
	b, err := OpenURL(ctx, u)
	if err != nil {
		return nil, err
	}
	return &adapters.Stores{Policies: b.PolicyStore(), Ledger: b.LedgerStore()}, nil
}
