package errs

// NotIndexed: a query's predicate or order needs an index that no declared
// index of the model serves (or one that is still being built), and the
// query did not ask for a scan. errors.Is(NotIndexed, Invalid) holds.
var NotIndexed error = &child{"rapyer: not indexed", Invalid}

// BadCursor: a page cursor was made by another query, or was changed.
// errors.Is(BadCursor, Invalid) holds.
var BadCursor error = &child{"rapyer: bad cursor", Invalid}

func init() { all = append(all, NotIndexed, BadCursor) }
