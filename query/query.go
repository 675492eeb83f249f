package query

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/is"
)

// Sortable is a field to order by: any lens.Field of the model (a scalar field
// with an index.On, index.Prefix or index.Unique).
type Sortable interface {
	// Path is the field's stored dotted path ("address.city").
	Path() string
	// String describes the field for messages ("Product.price").
	String() string
}

// Query is a query on models of type S. It is a value: every method returns
// a new Query and leaves its receiver as it was. The zero Query finds every
// model, as All does.
type Query[S any] struct {
	pred       *is.Pred[S]
	order      Sortable
	desc, scan bool
	limit      int
	tag        *string
	err        error
}

// Where finds the models p holds for.
func Where[S any](p is.Pred[S]) Query[S] { return Query[S]{pred: &p} }

// All finds every model: served by the list of the model's ids.
func All[S any]() Query[S] { return Query[S]{} }

// OrderBy orders the results by f, ascending (Desc for descending), ties by
// id. f needs an index.On, index.Prefix or index.Unique; a lens of another
// type than S is refused (rapyer.ErrInvalid). Without OrderBy the
// order is the one of the index that serves the query (the id for an
// equality), stable from page to page. A nil f is refused
// (rapyer.ErrInvalid) when the query runs.
func (q Query[S]) OrderBy(f Sortable) Query[S] {
	if f == nil && q.err == nil {
		q.err = fmt.Errorf("%w: OrderBy(nil): give a lens of the model", errs.Invalid)
	}
	q.order = f
	return q
}

// Desc reverses the order.
func (q Query[S]) Desc() Query[S] {
	q.desc = true
	return q
}

// Limit keeps the first n results (n > 0); for Page, the size of a page.
func (q Query[S]) Limit(n int) Query[S] {
	if n <= 0 {
		q.err = fmt.Errorf("%w: Limit(%d): a limit must be positive", errs.Invalid, n)
	}
	q.limit = n
	return q
}

// Scan lets the query read models no index narrows down: every model of
// the type when no index serves the predicate. Without it such a query fails
// with rapyer.ErrNotIndexed.
func (q Query[S]) Scan() Query[S] {
	q.scan = true
	return q
}

// Tag asks only the models of one hash tag (rapyer.Options.HashTag), all of
// them in one cluster slot: one call to one server. A model with a hash tag
// needs it; other models refuse it.
func (q Query[S]) Tag(tag string) Query[S] {
	q.tag = &tag
	return q
}

// String describes the query: `Where(Equal(status, "sold")).OrderBy(price).Desc().Limit(20)`.
func (q Query[S]) String() string {
	var b strings.Builder
	if q.pred == nil {
		b.WriteString("All()")
	} else {
		b.WriteString("Where(" + q.pred.String() + ")")
	}
	if q.order != nil {
		b.WriteString(".OrderBy(" + q.order.Path() + ")")
	}
	if q.desc {
		b.WriteString(".Desc()")
	}
	if q.limit != 0 {
		b.WriteString(".Limit(" + strconv.Itoa(q.limit) + ")")
	}
	if q.scan {
		b.WriteString(".Scan()")
	}
	if q.tag != nil {
		b.WriteString(".Tag(" + strconv.Quote(*q.tag) + ")")
	}
	return b.String()
}
