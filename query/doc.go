// Package query finds models by their fields: a Query is a predicate (the
// is.Pred values that guards take, so a condition reads the same in a guard
// and in a query), an order, a limit, and the permission to scan. The
// methods of rapyer.Model run it: Find, FindIDs, Page, Count, DeleteWhere.
//
//	q := query.Where(is.And(is.Equal(Status, "sold"), is.AtLeast(Price, 100))).
//		OrderBy(Price).Desc().Limit(20)
//	for p, err := range products.Find(ctx, q) { ... }
//
// The model's indexes (rapyer.Options.Indexes, package index) serve the
// query: a leaf on an indexed field is a range of its index; And is served
// by one of its children, Or by all of them; Not and NotEqual by none. The
// index only narrows the candidates: the server evaluates the whole
// predicate on each one, as a guard would, in the same step as it reads it.
// A query that no index serves fails with rapyer.ErrNotIndexed, naming the
// field, unless it asks for a scan (Scan). See docs/queries.md.
package query
