package tx_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/shape"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// s25oShow is a value for a message or a comparison: a long one by its
// length and hash.
func s25oShow(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 64 {
		return fmt.Sprintf("<%d bytes %x>", len(s), sha256.Sum256([]byte(s)))
	}
	return strconv.Quote(s)
}

// s25oDump is every key of the target, byte for byte: type, contents (a
// set's members and a hash's fields sorted; the version only with
// version), and whether it has a TTL.
func s25oDump(ctx context.Context, b *testenv.Backend, target tx.Target, version bool) string {
	var sb strings.Builder
	for _, k := range tx.Keys(target) {
		typ := b.Client.Type(ctx, k).Val()
		var items []string
		switch typ {
		case "hash":
			for f, v := range b.Client.HGetAll(ctx, k).Val() {
				if f != "__v" || version {
					items = append(items, s25oShow(f)+"="+s25oShow(v))
				}
			}
			slices.Sort(items)
		case "list":
			for _, v := range b.Client.LRange(ctx, k, 0, -1).Val() {
				items = append(items, s25oShow(v))
			}
		case "set":
			for _, v := range b.Client.SMembers(ctx, k).Val() {
				items = append(items, s25oShow(v))
			}
			slices.Sort(items)
		case "string":
			items = append(items, s25oShow(b.Client.Get(ctx, k).Val()))
		}
		fmt.Fprintf(&sb, "%s %s %v ttl=%v\n", k, typ, items, b.Client.PTTL(ctx, k).Val() > 0)
	}
	return sb.String()
}

// s25oOutcome is what a batch did: its error or replies, how its version
// moved, and the stored state without the version (a created model's
// version is the server's clock).
func s25oOutcome(ctx context.Context, b *testenv.Backend, target tx.Target, v0 string, o []ops.Op, res *tx.Result, err error) string {
	s := fmt.Sprint("err: ", err, "\n")
	var ge *rapyer.GuardError
	if errors.As(err, &ge) {
		s += fmt.Sprintf("guard: %d %s %s\n", ge.Index, ge.Field, s25oShow(ge.Seen))
	}
	if err == nil {
		s += fmt.Sprintf("skipped %v\n", res.Skipped)
		for _, op := range o {
			v, _ := res.Reply(op)
			s += fmt.Sprintf("%s -> %s\n", s25oShow(op), s25oShow(v))
		}
	}
	if v0 != "" {
		s = strings.ReplaceAll(s, v0, "<the version>") // the server's clock
	}
	v := b.Client.HGet(ctx, target.Root(), "__v").Val()
	switch n0, _ := strconv.ParseInt(v0, 10, 64); {
	case v == v0:
		v = "kept"
	case v0 != "" && v == strconv.FormatInt(n0+1, 10):
		v = "+1"
	case len(v) > 12:
		v = "from the clock"
	}
	return s + "version " + v + "\n" + s25oDump(ctx, b, target, false)
}

// s25oBatch is a random batch of 1-4 drawn ops, now and then ending in
// Delete.
func s25oBatch(r *rand.Rand) []s25oStep {
	steps := make([]s25oStep, 1+r.IntN(4))
	for i := range steps {
		steps[i] = s25oDraw(r)
	}
	if r.IntN(12) == 0 {
		steps = append(steps, s25oStep{op: ops.Delete[S25oBox](), del: true, apply: func(*s25oRun) error { return nil }})
	}
	return steps
}

// TestS25oOpsAgreeWithTheOracle: random batches of the catalogue's ops on
// edge values (ints at +-2^53+-1 and the int64 ends, NaN, Inf and -0
// floats, empty, NUL, invalid UTF-8 and 1 MiB strings, list indexes
// negative and out of range, empty and missing collections, empty map
// keys, duplicate set members, a missing model under each IfMissing), on
// random stored states, on every tier: the compiled path (Exec) and the
// interpreter agree on errors, replies and the stored state; the stored
// state and every yield are the Go oracle's; every error is typed and a
// batch that fails leaves every key byte for byte as it was.
func TestS25oOpsAgreeWithTheOracle(t *testing.T) {
	seed := testenv.Seed(t)
	modes := []tx.Missing{tx.FailIfMissing, tx.SkipIfMissing, tx.MustBeNew}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[S25oBox](b.Client, rapyer.Options{Prefix: b.Prefix + "box"})
		target := m.Target("b")
		r := rand.New(rand.NewPCG(uint64(seed), 25))
		shape.Forget()
		for i := range s25oBatches {
			steps := s25oBatch(r)
			o := make([]ops.Op, len(steps))
			for j, st := range steps {
				o[j] = st.op
			}
			opts := tx.Options{IfMissing: s25oPick(r, modes)}
			exists, start := r.IntN(4) != 0, s25oRandomBox(r)
			restore := func() string {
				b.Client.Del(ctx, tx.Keys(target)...)
				if exists {
					if err := m.Save(ctx, "b", start); err != nil {
						t.Fatalf("batch %d: save %+v: %v", i, start, err)
					}
				}
				return b.Client.HGet(ctx, target.Root(), "__v").Val()
			}
			batch := tx.Of(o...).On(target)
			where := fmt.Sprintf("batch %d %v (%+v), model stored %v", i, o, opts, exists)
			v0 := restore()
			res, err := tx.ExecOnInterpreter(ctx, b.Client, batch, opts)
			want := s25oOutcome(ctx, b, target, v0, o, res, err)
			v0 = restore()
			before := s25oDump(ctx, b, target, true)
			res, err = tx.Exec(ctx, b.Client, batch, opts)
			if got := s25oOutcome(ctx, b, target, v0, o, res, err); got != want {
				t.Fatalf("%s: compiled\n%s\ninterpreter\n%s", where, got, want)
			}
			exp := s25oPredict(steps, opts.IfMissing, exists, start)
			s25oJudge(t, ctx, m, b, target, where, steps, res, err, exp, before)
		}
	})
}

// s25oVersion is the version in a dump.
func s25oVersion(dump string) string {
	i := strings.Index(dump, `"__v"=`)
	if i < 0 {
		return ""
	}
	return strings.Fields(dump[i:])[0]
}

// s25oBatches is how many batches a tier runs.
const s25oBatches = 300

// s25oJudge holds a batch's outcome to the oracle's expectation.
func s25oJudge(t *testing.T, ctx context.Context, m *rapyer.Model[S25oBox], b *testenv.Backend, target tx.Target,
	where string, steps []s25oStep, res *tx.Result, err error, exp s25oExpect, before string) {
	t.Helper()
	after := s25oDump(ctx, b, target, true)
	if err != nil {
		if !s25oTyped(err) {
			t.Fatalf("%s: an untyped error: %v", where, err)
		}
		if after != before {
			t.Fatalf("%s: failed (%v) but wrote:\n%s\nbefore:\n%s", where, err, after, before)
		}
	}
	switch {
	case exp.err != nil:
		if !errors.Is(err, exp.err) {
			t.Fatalf("%s: got %v, want %v", where, err, exp.err)
		}
		return
	case err != nil:
		t.Fatalf("%s: %v, want success", where, err)
	case exp.skipped:
		if !res.Skipped || after != before {
			t.Fatalf("%s: skipped %v, wrote:\n%s\nbefore:\n%s", where, res.Skipped, after, before)
		}
		return
	}
	if !exp.writes && exp.exists && s25oVersion(before) != s25oVersion(after) {
		t.Fatalf("%s: a batch that writes nothing moved the version:\n%s\nbefore:\n%s", where, after, before)
	}
	got, gerr := m.Get(ctx, "b")
	if errors.Is(gerr, rapyer.ErrNotFound) && !strings.Contains(before, " hash ") && s25oDiff(exp.value, S25oBox{}) == "" {
		// a model the batch would create but whose ops changed nothing
		// (a pop of an empty list, a missing item) is not written: it
		// is as the empty model it would be
		exp.exists = false
	}
	switch {
	case !exp.exists && !errors.Is(gerr, rapyer.ErrNotFound):
		t.Fatalf("%s: the model should be gone, Get: %+v, %v", where, got, gerr)
	case exp.exists && gerr != nil:
		t.Fatalf("%s: Get: %v\n%s", where, gerr, after)
	case exp.exists:
		if d := s25oDiff(got, exp.value); d != "" {
			t.Fatalf("%s: stored (got != oracle): %s", where, d)
		}
	}
	for _, st := range steps {
		if st.check != nil {
			if err := st.check(res); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
		}
	}
}
