package s3

import (
	"context"
	"strings"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
)

// ExportSink is a [ledger.ExportSink] writing an export under a key prefix
// of the bucket, so the bucket (or a static web front of it) serves the log
// to any C2SP tlog-tiles reader: PREFIX DIR/checkpoint, DIR/tile/L/N,
// DIR/tile/entries/N and the export's key and manifest.
type ExportSink struct {
	b   *Bucket
	dir string
}

var _ ledger.ExportSink = (*ExportSink)(nil)

// ExportSink returns a sink writing under dir (a key prefix inside the
// bucket's prefix; "" for the prefix itself).
func (b *Bucket) ExportSink(dir string) *ExportSink {
	if dir != "" && !strings.HasSuffix(dir, "/") {
		dir += "/"
	}
	return &ExportSink{b: b, dir: dir}
}

// Put implements [ledger.ExportSink]: one unconditional PUT (an export
// rewrites its checkpoint when run again at a larger size). A path that is
// empty, absolute or contains ".." is errs.ErrInvalidArgument.
func (s *ExportSink) Put(ctx context.Context, path string, data []byte) error {
	if err := ctxErr(ctx, "export put"); err != nil {
		return err
	}
	if path == "" || strings.HasPrefix(path, "/") || strings.Contains(path, "..") {
		return errs.Errorf(errs.ErrInvalidArgument, "s3: export: bad path %q", path)
	}
	return s.b.put(ctx, s.dir+path, data, putAlways, "")
}

// Get reads a file of an export written under dir, for readers that hold
// credentials instead of a public bucket URL; errs.ErrNotFound if absent.
func (s *ExportSink) Get(ctx context.Context, path string) ([]byte, error) {
	if err := ctxErr(ctx, "export get"); err != nil {
		return nil, err
	}
	o, err := s.b.get(ctx, s.dir+path)
	return o.body, err
}
