package reply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/reply"
)

// serverErr is an error reply as go-redis types it (redis.Error).
type serverErr string

func (e serverErr) Error() string { return string(e) }
func (serverErr) RedisError()     {}

func TestFromServer(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{serverErr("ERR boom"), true},
		{fmt.Errorf("wrapped: %w", serverErr("NOPERM no")), true},
		{errors.New("ERR text alone is no reply"), false},
		{context.Canceled, false},
		{redis.ErrClosed, false},
		{nil, false},
	} {
		if got := reply.FromServer(c.err); got != c.want {
			t.Errorf("FromServer(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestWrongType(t *testing.T) {
	wt := serverErr("WRONGTYPE Operation against a key holding the wrong kind of value")
	if !reply.IsWrongType(wt) || reply.IsWrongType(serverErr("ERR other")) || reply.IsWrongType(nil) {
		t.Fatal("IsWrongType misreads")
	}
	err := reply.WrongType("p:{1}", wt)
	if !errors.Is(err, errs.WrongType) || !strings.Contains(err.Error(), "p:{1}") {
		t.Fatalf("WrongType(key) = %v", err)
	}
	if err := reply.WrongType("", wt); !errors.Is(err, errs.WrongType) || strings.Contains(err.Error(), ": :") {
		t.Fatalf("WrongType(\"\") = %v", err)
	}
	other := serverErr("ERR other")
	if got := reply.WrongType("k", other); got != error(other) {
		t.Fatalf("WrongType passes other errors as they are; got %v", got)
	}
}
