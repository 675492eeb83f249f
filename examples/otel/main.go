// Command otel shows what go-redis's OpenTelemetry hooks
// (github.com/redis/go-redis/extra/redisotel/v9) record for the work of
// rapyer-go: an atomic batch, an optimistic update and a model lock, each under
// a span of the application's own, on an embedded miniredis (or on the server
// of REDIS_URL).
//
// The spans go to standard output through the stdout exporter of the
// OpenTelemetry SDK, one JSON object a line (-pretty indents them), followed
// by a summary of the span tree. It lives in a module of its own so that the
// library does not depend on OpenTelemetry:
//
//	cd examples/otel && go run .
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

type Account struct {
	Owner   string
	Balance int
	History []string
}

var (
	Balance = lens.Of(func(a *Account) *int { return &a.Balance })
	History = lens.Of(func(a *Account) *[]string { return &a.History })
)

func main() {
	pretty := flag.Bool("pretty", false, "indent the exported spans")
	quiet := flag.Bool("summary", false, "print only the summary of the span tree, not the exported spans")
	flag.Parse()
	if err := run(os.Stdout, *pretty, *quiet); err != nil {
		log.Fatal(err)
	}
}

func run(out io.Writer, pretty, summaryOnly bool) error {
	ctx := context.Background()

	tp, recorder, err := tracing(out, pretty, summaryOnly)
	if err != nil {
		return err
	}
	defer func() { _ = tp.Shutdown(context.Background()) }()
	otel.SetTracerProvider(tp)
	tracer := tp.Tracer("github.com/rapyer-go/rapyer/examples/otel")

	// The client, instrumented: one span per command or pipeline it sends.
	rdb, stop, err := connect()
	if err != nil {
		return err
	}
	defer stop()
	if err := redisotel.InstrumentTracing(rdb,
		redisotel.WithTracerProvider(tp),
		redisotel.WithDBStatement(true),
		redisotel.WithDialFilter(true), // no redis.dial spans: connections are pooled
	); err != nil {
		return err
	}

	accounts, err := rapyer.New[Account](rdb, rapyer.Options{Prefix: "otel_account"})
	if err != nil {
		return err
	}

	step := func(name string, fn func(ctx context.Context) error) error {
		ctx, span := tracer.Start(ctx, name)
		defer span.End()
		if err := fn(ctx); err != nil {
			span.RecordError(err)
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}

	steps := tour(accounts)
	for _, s := range steps {
		if err := step(s.name, s.fn); err != nil {
			return err
		}
	}
	if err := step("delete", func(ctx context.Context) error {
		_, err := accounts.Delete(ctx, "alice")
		return err
	}); err != nil {
		return err
	}
	if err := tp.ForceFlush(ctx); err != nil {
		return err
	}
	summarize(out, recorder.Ended())
	return nil
}

// tour is the steps the example traces, each in a span of its own.
func tour(accounts *rapyer.Model[Account]) []step {
	return []step{
		{"save", func(ctx context.Context) error {
			return accounts.Save(ctx, "alice", Account{Owner: "alice", Balance: 100})
		}},
		{"deposit: atomic batch", func(ctx context.Context) error {
			_, err := accounts.Exec(ctx, "alice", tx.Of(
				ops.Incr(Balance, 25),
				ops.Append(History, "deposit:25"),
			))
			return err
		}},
		{"overdraft: guarded batch", func(ctx context.Context) error {
			_, err := accounts.Exec(ctx, "alice", tx.Of(
				ops.Require(is.AtLeast(Balance, 1000)),
				ops.Decr(Balance, 1000),
			))
			if errors.Is(err, rapyer.ErrPrecondition) {
				return nil // expected: refused on the server, nothing written
			}
			return fmt.Errorf("want ErrPrecondition, got %v", err)
		}},
		{"round up: optimistic update", func(ctx context.Context) error {
			_, err := accounts.Update(ctx, "alice", func(a Account) (tx.Batch, error) {
				return tx.Of(ops.Set(Balance, (a.Balance+99)/100*100)), nil
			})
			return err
		}},
		{"withdraw: model lock", func(ctx context.Context) error {
			_, err := accounts.Lock(ctx, "alice", "withdraw", func(ctx context.Context, a *Account) error {
				a.Balance -= 50
				a.History = append(a.History, "withdraw:50")
				return nil
			})
			return err
		}},
		{"read", func(ctx context.Context) error {
			a, err := accounts.Get(ctx, "alice")
			if err == nil && (a.Balance != 150 || len(a.History) != 2) {
				err = fmt.Errorf("unexpected state %+v", a)
			}
			return err
		}},
	}
}

// step is one traced step of the tour.
type step struct {
	name string
	fn   func(ctx context.Context) error
}

// tracing is the tracer provider: every span to the stdout exporter (into
// out, or nowhere with summaryOnly), and to a recorder for the summary at
// the end.
func tracing(out io.Writer, pretty, summaryOnly bool) (*sdktrace.TracerProvider, *tracetest.SpanRecorder, error) {
	var opts []stdouttrace.Option
	w := out
	if summaryOnly {
		w = io.Discard
	}
	opts = append(opts, stdouttrace.WithWriter(w))
	if pretty {
		opts = append(opts, stdouttrace.WithPrettyPrint())
	}
	exporter, err := stdouttrace.New(opts...)
	if err != nil {
		return nil, nil, err
	}
	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSyncer(exporter),
		sdktrace.WithSpanProcessor(recorder),
	)
	return tp, recorder, nil
}

// connect returns a client on REDIS_URL, or on an embedded miniredis.
func connect() (*redis.Client, func(), error) {
	if url := os.Getenv("REDIS_URL"); url != "" {
		opts, err := redis.ParseURL(url)
		if err != nil {
			return nil, nil, err
		}
		rdb := redis.NewClient(opts)
		return rdb, func() { _ = rdb.Close() }, nil
	}
	mr, err := miniredis.Run()
	if err != nil {
		return nil, nil, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	return rdb, func() { _ = rdb.Close(); mr.Close() }, nil
}

// summarize prints the span tree: each application span with the Redis
// spans under it (name, commands of a pipeline, status and the start of the
// statement), nested as they were recorded.
func summarize(out io.Writer, spans []sdktrace.ReadOnlySpan) {
	slices.SortStableFunc(spans, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Parent().IsValid() {
			children[s.Parent().SpanID()] = append(children[s.Parent().SpanID()], s)
		} else {
			roots = append(roots, s)
		}
	}
	var print func(s sdktrace.ReadOnlySpan, depth int)
	print = func(s sdktrace.ReadOnlySpan, depth int) {
		line := strings.Repeat("  ", depth) + s.Name()
		if depth == 0 {
			line += fmt.Sprintf(" (%s)", s.EndTime().Sub(s.StartTime()).Round(10*time.Microsecond))
		}
		if n, ok := attr(s, "db.redis.num_cmd"); ok {
			line += " [" + n + " commands]"
		}
		if s.Status().Code == codes.Error {
			line += " ERROR: " + s.Status().Description
		}
		if stmt, ok := attr(s, "db.statement"); ok {
			line += "  | " + shorten(stmt, 80)
		}
		fmt.Fprintln(out, line)
		for _, c := range children[s.SpanContext().SpanID()] {
			print(c, depth+1)
		}
	}
	fmt.Fprintln(out, "--- the span tree: application spans, and the Redis spans under them")
	for _, r := range roots {
		print(r, 0)
	}
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) (string, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value.Emit(), true
		}
	}
	return "", false
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
