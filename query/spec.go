package query

import (
	"fmt"
	"reflect"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/plan"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// Spec is the query as the model's methods run it. Its argument's type is
// internal to this module, so no other code can call it.
func (q Query[S]) Spec(plan.Access) (plan.Spec, error) {
	s := plan.Spec{Desc: q.desc, Scan: q.scan, Limit: q.limit, Shown: q.String()}
	if q.err != nil {
		return s, q.err
	}
	if q.tag != nil {
		s.Tag, s.HasTag = *q.tag, true
	}
	if q.pred != nil {
		t, err := q.pred.Tree(plan.Access{})
		if err != nil {
			return s, errs.At(s.Shown, err)
		}
		p := *q.pred
		s.Tree, s.Pred = t, p
		s.Lower = func(t any) ([]string, error) { return p.Lower(t.(prog.Target)) }
	}
	if q.order != nil {
		if !reads[S](q.order) {
			return s, fmt.Errorf("%w: OrderBy(%s): a field of another type than the query's %s", errs.Invalid, q.order, reflect.TypeFor[S]())
		}
		m, err := schema.For[S]()
		if err != nil {
			return s, err
		}
		n, ok := m.Lookup(q.order.Path())
		if !ok || n.Kind != schema.Scalar {
			return s, fmt.Errorf("%w: OrderBy(%s): not a scalar field of %s", errs.Invalid, q.order, reflect.TypeFor[S]())
		}
		s.Order = n.Name
	}
	return s, nil
}

// reads reports whether f is a field of S: a lens.Field[S, A], whose Get
// takes an S (a lens of another type with a field of the same stored name
// would order by S's field). A Sortable without Get is taken by its path.
func reads[S any](f Sortable) bool {
	g, ok := reflect.TypeOf(f).MethodByName("Get")
	return !ok || (g.Type.NumIn() == 2 && g.Type.In(1) == reflect.TypeFor[S]())
}
