package reliability_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// acctIndexes are the indexes of Acct in the fault runs: every write batch
// moves the Counter entry, most the Balance one, pushes and pops change
// the Queue's members. acctFields is how the oracle reads them.
var (
	acctIndexes = []index.Spec{index.On(Counter), index.On(Balance), index.Members(Queue)}
	acctFields  = []ixField{{name: "counter", kind: "i"}, {name: "balance", kind: "i"}, {name: "queue", kind: "s", coll: "list"}}
)

// acctQueryArg draws a query of the linearizability runs (acctQuery).
func acctQueryArg(r *rand.Rand) string {
	switch r.IntN(3) {
	case 0:
		return fmt.Sprintf("b:%d", r.IntN(40))
	case 1:
		return fmt.Sprintf("o:%d:%d", r.IntN(300), r.IntN(40))
	}
	return fmt.Sprintf("c:%d:%d", r.IntN(300), r.IntN(40))
}

// acctQuery is the query arg names, and the predicate as the sequential
// specification evaluates it on a model's counter and balance:
//
//	b:k    Where(AtLeast(balance, k))
//	o:k:j  Where(Or(Below(counter, k), AtLeast(balance, j))).OrderBy(counter).Desc()
//	c:k:j  Where(And(AtLeast(counter, k), Not(Below(balance, j)))).OrderBy(balance)
func acctQuery(arg string) (query.Query[Acct], func(counter, balance int) bool) {
	parts := strings.Split(arg, ":")
	k, _ := strconv.Atoi(parts[1])
	j := 0
	if len(parts) > 2 {
		j, _ = strconv.Atoi(parts[2])
	}
	switch parts[0] {
	case "b":
		return query.Where(is.AtLeast(Balance, k)), func(_, b int) bool { return b >= k }
	case "o":
		return query.Where(is.Or(is.Below(Counter, k), is.AtLeast(Balance, j))).OrderBy(Counter).Desc(),
			func(c, b int) bool { return c < k || b >= j }
	}
	return query.Where(is.And(is.AtLeast(Counter, k), is.Not(is.Below(Balance, j)))).OrderBy(Balance),
		func(c, b int) bool { return c >= k && b >= j }
}

// linQuery runs a query of the history: one page (one call per slot
// group, each atomic), of which the model in.id is the output: whether
// the query found it, and as what.
func linQuery(ctx context.Context, m *rapyer.Model[Acct], in linInput) linOutput {
	figures.histQueries.Add(1)
	q, _ := acctQuery(in.arg)
	p, err := m.Page(ctx, q.Limit(10), "")
	if err != nil {
		figures.histQueriesUnknown.Add(1)
		return linOutput{unknown: true}
	}
	for _, e := range p.Items {
		if e.ID == in.id {
			a := e.Value
			return linOutput{ok: true, counter: a.Counter, balance: a.Balance, queue: joinQueue(a.Queue), tags: joinTags(a.Tags)}
		}
	}
	return linOutput{}
}

// acctIndexCheck runs after recovery: every group's index keys must equal
// what the stored models give (ixOracle), and queries must answer what a
// scan of them gives.
func acctIndexCheck(t *testing.T, c redis.UniversalClient, m *rapyer.Model[Acct], prefix string, ids []string, stored map[string]Acct) {
	t.Helper()
	o := ixOracle{c: c, prefix: prefix, groups: ixDefaultGroups, fields: acctFields, ids: ids}
	d := o.check(t, "after the run")
	ctx := context.Background()
	args := []string{"b:0", "b:3", "b:20", "o:5:10", "o:100:0", "c:0:0", "c:50:5"}
	for _, a := range stored {
		if len(a.Queue) > 0 {
			args = append(args, "e:"+a.Queue[len(a.Queue)-1])
		}
	}
	for _, arg := range args {
		q, holds := acctQuery(arg)
		ordered := !strings.HasPrefix(arg, "b:")
		el, isElem := strings.CutPrefix(arg, "e:")
		if isElem {
			q, ordered, holds = query.Where(is.Element(Queue, el)), false, nil
		}
		var want []string
		for _, id := range slices.Sorted(maps.Keys(stored)) {
			a := stored[id]
			if isElem && slices.Contains(a.Queue, el) || !isElem && holds(a.Counter, a.Balance) {
				want = append(want, id)
			}
		}
		if ordered {
			sortAccts(arg, want, stored)
		}
		var got []string
		for id, err := range m.FindIDs(ctx, q) {
			if err != nil {
				t.Fatalf("%s after the run: %v", q, err)
			}
			got = append(got, id)
		}
		if !ordered {
			slices.Sort(got)
		}
		n, err := m.Count(ctx, q)
		if err != nil || n != len(want) || !slices.Equal(got, want) {
			t.Fatalf("%s after the run: FindIDs %q, Count %d, %v; a scan gives %q", q, got, n, err, want)
		}
		figures.queries.Add(1)
		figures.queryAnswers.Add(2)
	}
	t.Logf("indexes after the run: %s; %d queries answered as a scan does", d, len(args))
}

// sortAccts puts ids in the order of the query arg names.
func sortAccts(arg string, ids []string, stored map[string]Acct) {
	slices.SortFunc(ids, func(a, b string) int {
		x, y := stored[a], stored[b]
		if strings.HasPrefix(arg, "o:") {
			return -cmp.Or(cmp.Compare(x.Counter, y.Counter), cmp.Compare(a, b))
		}
		if strings.HasPrefix(arg, "c:") {
			return cmp.Or(cmp.Compare(x.Balance, y.Balance), cmp.Compare(a, b))
		}
		return cmp.Compare(a, b)
	})
}

// queryBugs are the errors no fault of a run explains: a query that fails
// with one of them shows a bug. (A query, like Get, may fail with the
// transport's own error while the server is down or loading.)
var queryBugs = []error{rapyer.ErrCorrupt, rapyer.ErrWrongType, rapyer.ErrNotIndexed, rapyer.ErrBadCursor, rapyer.ErrInvalid}

// queryLoad runs queries (acctQuery, one page each) on m from one worker
// until stop is closed, and checks every answer that comes back: each
// model it gives holds for the predicate, comes once, in the query's
// order. A failure must not be one of queryBugs.
// wait returns how many queries ran and the errors they met.
func queryLoad(t *testing.T, m *rapyer.Model[Acct], stop <-chan struct{}) (wait func() (int, []error)) {
	r := rand.New(rand.NewPCG(uint64(testenv.Seed(t)), 77))
	var n int
	var errs, wrong []error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			arg := acctQueryArg(r)
			q, holds := acctQuery(arg)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			p, err := m.Page(ctx, q.Limit(10), "")
			cancel()
			n++
			if err != nil {
				errs = append(errs, err)
				time.Sleep(2 * time.Millisecond)
				continue
			}
			if err := pageHolds(arg, p.Items, holds); err != nil {
				wrong = append(wrong, fmt.Errorf("%s: %w", q, err))
			}
		}
	}()
	return func() (int, []error) {
		<-done
		for _, err := range wrong {
			t.Errorf("a query answered wrong: %v", err)
		}
		for _, err := range errs {
			if slices.ContainsFunc(queryBugs, func(s error) bool { return errors.Is(err, s) }) {
				t.Errorf("a query failed as no fault explains: %v", err)
			}
		}
		figures.loadQueries.Add(int64(n))
		figures.loadQueryErrs.Add(int64(len(errs)))
		return n, errs
	}
}

// pageHolds checks one page of a query named by arg.
func pageHolds(arg string, items []rapyer.Entry[Acct], holds func(counter, balance int) bool) error {
	seen := map[string]bool{}
	stored := map[string]Acct{}
	var ids []string
	for _, e := range items {
		if seen[e.ID] {
			return fmt.Errorf("%s came twice", e.ID)
		}
		seen[e.ID] = true
		if !holds(e.Value.Counter, e.Value.Balance) {
			return fmt.Errorf("%s (counter %d, balance %d) does not match", e.ID, e.Value.Counter, e.Value.Balance)
		}
		stored[e.ID] = e.Value
		ids = append(ids, e.ID)
	}
	if !strings.HasPrefix(arg, "b:") {
		sorted := slices.Clone(ids)
		sortAccts(arg, sorted, stored)
		if !slices.Equal(ids, sorted) {
			return fmt.Errorf("order %q, want %q", ids, sorted)
		}
	}
	return nil
}
