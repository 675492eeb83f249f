package rapyer

import "github.com/rapyer-go/rapyer/internal/errs"

var (
	// ErrNotIndexed: a query's predicate or order needs an index that no
	// declared index serves (the message names the field), or one that is
	// being built (Reindex), and the query did not ask for a scan
	// (query.Scan). errors.Is(err, ErrInvalid) holds too. Nothing was read.
	ErrNotIndexed = errs.NotIndexed
	// ErrBadCursor: a page cursor was made by another query, or was
	// changed. errors.Is(err, ErrInvalid) holds too.
	ErrBadCursor = errs.BadCursor
)
