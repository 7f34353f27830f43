package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress reports how far a long command has got. It draws on a terminal
// and stays silent when the output is a pipe or a file, so scripts see only
// the command's result.
type progress struct {
	w     io.Writer
	on    bool
	label string
	total int64
	start time.Time
	last  time.Time
}

// newProgress reports to w (normally stderr) only if w is a terminal.
func newProgress(w io.Writer, label string, total int64) *progress {
	return &progress{w: w, on: isTerminal(w), label: label, total: total, start: time.Now()}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Update reports that done units are finished; it redraws at most ten
// times a second.
func (p *progress) Update(done int64) {
	if !p.on {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && done != p.total {
		return
	}
	p.last = now
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 1e-9)
	if p.total > 0 {
		fmt.Fprintf(p.w, "\r%s: %d/%d (%.0f%%, %.0f/s)   ", p.label, done, p.total, 100*float64(done)/float64(p.total), rate)
	} else {
		fmt.Fprintf(p.w, "\r%s: %d (%.0f/s)   ", p.label, done, rate)
	}
}

// Done ends the progress line.
func (p *progress) Done() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}
