package rapyer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// A task queue as a new user writes it from the docs: tasks indexed by
// status and due time, pending ones paged in due order, each claimed under a
// model lock so that two workers never run one task.

type s25uTask struct {
	Status string
	Due    time.Time
	Worker string
}

var (
	s25uStatus = lens.Of(func(t *s25uTask) *string { return &t.Status })
	s25uDue    = lens.Of(func(t *s25uTask) *time.Time { return &t.Due })
)

func TestS25uTaskQueue(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		tasks, err := rapyer.New[s25uTask](b.Client, rapyer.Options{Prefix: b.Prefix + "task",
			Indexes: []index.Spec{index.On(s25uStatus), index.On(s25uDue)}})
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
		for i := range 7 { // saved out of due order
			due := t0.Add(time.Duration((i*3)%7) * time.Minute)
			if err := tasks.Save(ctx, fmt.Sprintf("t%d", i), s25uTask{Status: "pending", Due: due}); err != nil {
				t.Fatal(err)
			}
		}
		pending := query.Where(is.Equal(s25uStatus, "pending")).OrderBy(s25uDue).Limit(3)
		var order []time.Time
		for cursor, pages := "", 0; ; pages++ {
			page, err := tasks.Page(ctx, pending, cursor)
			if err != nil || pages > 3 {
				t.Fatalf("page %d: %v", pages, err)
			}
			for _, e := range page.Items {
				order = append(order, e.Value.Due)
				s25uClaim(ctx, t, tasks, e.ID, "w1")
			}
			if cursor = page.Next; cursor == "" {
				break
			}
		}
		if len(order) != 7 {
			t.Fatalf("paged %d tasks, want 7", len(order))
		}
		for i := range order {
			if !order[i].Equal(t0.Add(time.Duration(i) * time.Minute)) {
				t.Fatalf("due order %v, want one a minute from %v", order, t0)
			}
		}
		if n, err := tasks.Count(ctx, query.Where(is.Equal(s25uStatus, "pending"))); err != nil || n != 0 {
			t.Fatalf("pending after every claim: %d, %v", n, err)
		}
	})
}

// s25uClaim claims a task under its lock; a task claimed already is left.
func s25uClaim(ctx context.Context, t *testing.T, tasks *rapyer.Model[s25uTask], id, worker string) {
	t.Helper()
	_, err := tasks.Lock(ctx, id, "claim", func(ctx context.Context, task *s25uTask) error {
		if task.Status == "pending" {
			task.Status, task.Worker = "running", worker
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
