package bench_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// The longest single request (promise 13, bounded work per request): the
// worst batch each default limit of tx.Budget allows, and the reproductions
// of issue 11 that the limits and the O(min(i, n-i)) list forms answer, each
// run on a private redis-server while another connection sends PINGs one
// after the other. The server time is what Redis counted for the batch's
// FCALL (INFO commandstats); the longest PING is how long a client waited
// meanwhile (a PING waits behind a running script; on a busy machine it
// also waits for a CPU, and in this process for the Go runtime, so it is an
// upper bound); the request time is what Exec took, building the program and
// reading the reply included.

// Doc is the model of the stall table: a text and a list.
type Doc struct {
	Text  string
	Items []string
}

var (
	DocText  = lens.Of(func(d *Doc) *string { return &d.Text })
	DocItems = lens.Of(func(d *Doc) *[]string { return &d.Items })
)

// stallRuns is how many times each row runs; the table has the median and
// the largest figure.
const stallRuns = 5

// bigList is the length of the long list.
const bigList = 2_000_000

// TestStallTable prints the stall table alone (RAPYER_BENCH_STALL=1); make
// bench prints it in the performance table.
func TestStallTable(t *testing.T) {
	if os.Getenv("RAPYER_BENCH_STALL") != "1" {
		t.Skip("set RAPYER_BENCH_STALL=1 to run the stall table alone (make bench runs it too)")
	}
	fmt.Println()
	fmt.Print(stallTable(t))
}

type stallRow struct {
	what string
	// setup runs before every run, untimed; run is the request
	setup func() error
	run   func() error
	want  error // the error the request must give (nil: none)
	runs  int   // 0: stallRuns
}

func stallTable(t *testing.T) string {
	e := newEnv(t)
	ctx := e.ctx
	m := rapyer.MustNew[Doc](e.rdb, rapyer.Options{Prefix: "stall"})
	save := func(id string, d Doc) func() error { return func() error { return m.Save(ctx, id, d) } }
	exec := func(id string, o ops.Op, opt ...rapyer.Option) func() error {
		return func() error { _, err := m.Exec(ctx, id, tx.Of(o), opt...); return err }
	}
	listKey := func(id string) string {
		ks, err := m.Keys(id)
		must(t, err)
		for _, k := range ks {
			if strings.HasSuffix(k, ":items") {
				return k
			}
		}
		t.Fatalf("no items key among %v", ks)
		return ""
	}
	// fill makes the list of id n elements long, by hand: a Save of 2M
	// elements is itself a long request.
	fill := func(id string, n int) []string {
		must(t, m.Save(ctx, id, Doc{Text: "t"}))
		k := listKey(id)
		all := make([]string, n)
		for i := range all {
			all[i] = "element-" + strconv.Itoa(i)
		}
		for i := 0; i < n; i += 10_000 {
			args := make([]any, 0, 10_000)
			for _, s := range all[i:min(i+10_000, n)] {
				args = append(args, s)
			}
			must(t, e.rdb.RPush(ctx, k, args...).Err())
		}
		return all
	}

	moves := int(tx.DefaultMoves)
	fill("budget", 2*moves+10)
	big := fill("big", bigList)
	changed := slices.Clone(big)
	changed[bigList/2] = "changed"
	flip := false
	diff := func() error {
		// a lock save that changes one element in the middle, back and forth
		before, after := Doc{Text: "t", Items: big}, Doc{Text: "t", Items: changed}
		if flip {
			before, after = after, before
		}
		flip = !flip
		_, err := m.Exec(ctx, "big", tx.Of(ops.Diff(before, after)))
		return err
	}
	half := int(tx.DefaultBytes / 2)
	rows := []stallRow{
		{what: fmt.Sprintf("Repeat of \"ab\" %d times: %d bytes, the byte budget", half, tx.DefaultBytes),
			setup: save("text", Doc{Text: "ab"}), run: exec("text", ops.Repeat(DocText, half))},
		{what: fmt.Sprintf("AppendText of 1 byte to a text of %d: the byte budget", tx.DefaultBytes-1),
			setup: save("text", Doc{Text: strings.Repeat("a", tx.DefaultBytes-1)}), run: exec("text", ops.AppendText(DocText, "b"))},
		{what: "Repeat of \"ab\" MaxInt32 times: refused (ErrTooLarge), was 5 s of server time at 256 MiB",
			setup: save("text", Doc{Text: "ab"}), run: exec("text", ops.Repeat(DocText, math.MaxInt32)), want: rapyer.ErrTooLarge},
		{what: "Repeat of \"\" MaxInt32 times: costs nothing, was 4.5 s",
			setup: save("text", Doc{}), run: exec("text", ops.Repeat(DocText, math.MaxInt32))},
		{what: fmt.Sprintf("InsertAt in the middle of a list of %d: %d moves, the move budget", 2*moves+10, moves),
			run: exec("budget", ops.InsertAt(DocItems, moves, "x"))},
		{what: fmt.Sprintf("PopAt in the middle of that list: %d moves (LREM scan)", moves),
			run: exec("budget", ops.PopAt(DocItems, moves))},
		{what: fmt.Sprintf("RemoveRange of one element in the middle of it: %d moves", moves),
			run: exec("budget", ops.RemoveRange(DocItems, moves, moves+1))},
		{what: "InsertAt at index 1 of a 2M-element list: 1 move, was 1.1-1.3 s",
			run: exec("big", ops.InsertAt(DocItems, 1, "x"))},
		{what: "PopAt at index 1 of the 2M-element list: 1 move",
			run: exec("big", ops.PopAt(DocItems, 1))},
		{what: "lock save (ops.Diff) of one changed element in the middle of the 2M-element list: one LSET, was 1.1-1.3 s",
			run: diff},
		{what: "for scale, with no budget (tx.Unlimited): InsertAt in the middle of the 2M-element list, 1M moves",
			run: exec("big", ops.InsertAt(DocItems, bigList/2, "x"), rapyer.WithBudget(tx.Budget{Moves: tx.Unlimited})), runs: 2},
		{what: "for scale, with no budget: PopAt in the middle of the 2M-element list, 1M moves",
			run: exec("big", ops.PopAt(DocItems, bigList/2), rapyer.WithBudget(tx.Budget{Moves: tx.Unlimited})), runs: 2},
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "| stall | the longest single request, at the default limits (Budget{Bytes: %d, Moves: %d}) | server time (commandstats), median (max) | longest PING meanwhile, median (max) | request time, median (max) |\n|---|---|---:|---:|---:|\n",
		tx.DefaultBytes, tx.DefaultMoves)
	for _, r := range rows {
		var pings, reqs, srv []float64
		runs := r.runs
		if runs == 0 {
			runs = stallRuns
		}
		for range runs {
			if r.setup != nil {
				must(t, r.setup())
			}
			must(t, e.rdb.ConfigResetStat(ctx).Err())
			ping, req, err := stall(ctx, e, r.run)
			if !errors.Is(err, r.want) || (r.want == nil && err != nil) {
				t.Fatalf("%s: %v; want %v", r.what, err, r.want)
			}
			// the server's own time for the batch (FCALL, or EVALSHA
			// where a script ran), summed over its calls
			usec := usecPerCall(t, e, "fcall", "evalsha")
			srv = append(srv, usec*1e3)
			pings = append(pings, float64(ping))
			reqs = append(reqs, float64(req))
		}
		fmt.Fprintf(&sb, "| stall | %s | %s (%s) | %s (%s) | %s (%s) |\n", r.what,
			fmtMs(median(srv)), fmtMs(slices.Max(srv)),
			fmtMs(median(pings)), fmtMs(slices.Max(pings)), fmtMs(median(reqs)), fmtMs(slices.Max(reqs)))
	}
	return sb.String()
}

// stall runs req while a client of its own PINGs the server without pause,
// and gives the longest PING that overlapped the request and the time the
// request took.
func stall(ctx context.Context, e *env, req func() error) (ping, took time.Duration, err error) {
	pinger := redis.NewClient(&redis.Options{Addr: e.srv.Addr()})
	defer pinger.Close()
	if err := pinger.Ping(ctx).Err(); err != nil {
		return 0, 0, err
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		longest time.Duration
		done    = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			t0 := time.Now()
			if pinger.Ping(ctx).Err() != nil {
				return
			}
			d := time.Since(t0)
			mu.Lock()
			longest = max(longest, d)
			mu.Unlock()
		}
	}()
	// let the pinger start
	time.Sleep(5 * time.Millisecond)
	mu.Lock()
	longest = 0
	mu.Unlock()
	t0 := time.Now()
	err = req()
	took = time.Since(t0)
	// the PING that waited behind the request ends after it
	time.Sleep(2 * time.Millisecond)
	close(done)
	wg.Wait()
	return longest, took, err
}

func fmtMs(ns float64) string {
	d := time.Duration(ns)
	if d >= 10*time.Millisecond {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Microsecond).String()
}
