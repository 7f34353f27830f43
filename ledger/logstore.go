package ledger

// Store returns the store l was opened over, for reading the store's
// operational status (a SQLite store's index health, say) where only the
// Log is at hand. It is not a way to write: anything written through it
// bypasses l's sequencer and signatures, so l neither sees it nor can
// verify it.
func (l *Log) Store() Store { return l.store }
