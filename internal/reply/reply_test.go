package reply_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
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

// TestReadAndNotSentTypeWhatNeverReachedTheServerOnce: NotSent wraps in
// errs.NotSent what never left the client, keeping the cause; Read also a
// reply lost to the network; neither touches a server's reply, an error
// already typed (no sentinel twice) or an error of another kind.
func TestReadAndNotSentTypeWhatNeverReachedTheServerOnce(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	typed := fmt.Errorf("%w: %w", errs.UnknownOutcome, io.EOF)
	other := errors.New("a bug")
	for _, c := range []struct {
		err             error
		notSent, readNS bool
	}{
		{context.Canceled, true, true},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), true, true},
		{redis.ErrClosed, true, true},
		{redis.ErrPoolTimeout, true, true},
		{dial, true, true},
		{reset, false, true},
		{io.EOF, false, true},
		{serverErr("ERR busy"), false, false},
		{typed, false, false},
		{other, false, false},
	} {
		for _, f := range []struct {
			name string
			f    func(error) error
			want bool
		}{{"NotSent", reply.NotSent, c.notSent}, {"Read", reply.Read, c.readNS}} {
			got := f.f(c.err)
			if !errors.Is(got, c.err) {
				t.Errorf("%s(%v) = %v: the cause is lost", f.name, c.err, got)
			}
			if errors.Is(got, errs.NotSent) != f.want || (f.want && strings.Count(got.Error(), "not sent") != 1) {
				t.Errorf("%s(%v) = %v, want ErrNotSent %v, once", f.name, c.err, got, f.want)
			}
			if !f.want && got != c.err {
				t.Errorf("%s(%v) = %v, want it as it is", f.name, c.err, got)
			}
		}
	}
	if reply.Read(nil) != nil || reply.NotSent(nil) != nil {
		t.Error("nil became an error")
	}
	ns := fmt.Errorf("%w: %w", errs.NotSent, context.Canceled)
	if reply.NotSent(ns) != ns || reply.Read(ns) != ns {
		t.Error("an error typed ErrNotSent already was wrapped again")
	}
}

// TestRefusedTypesCrossSlot: a cluster node's refusals of keys in more than
// one slot (CROSSSLOT for declared keys; the two errors of a script that
// touches an undeclared key of another slot, as Redis 7 words them) and
// its redirections that reach the caller (MOVED, ASK: a client of one node
// pointed at a cluster node) are errs.CrossSlot, and nothing else is; the
// reply stays wrapped.
func TestRefusedTypesCrossSlot(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
	}{
		{serverErr("CROSSSLOT Keys in request don't hash to the same slot"), errs.CrossSlot},
		{serverErr("ERR Script attempted to access keys that do not hash to the same slot script: rapyer_acquire_1, on @user_function:3101."), errs.CrossSlot},
		{serverErr("ERR Script attempted to access a non local key in a cluster node script: rapyer_acquire_1, on @user_function:3101."), errs.CrossSlot},
		{fmt.Errorf("wrapped: %w", serverErr("CROSSSLOT Keys in request don't hash to the same slot")), errs.CrossSlot},
		{serverErr("MOVED 3005 127.0.0.1:7000"), errs.CrossSlot}, // reached a client of one node
		{serverErr("ASK 3005 127.0.0.1:7000"), errs.CrossSlot},
		{serverErr("TRYAGAIN Multiple keys request during rehashing of slot"), errs.Refused},
		{serverErr("ERR unknown command"), errs.Refused},
		{serverErr("NOPERM this user has no permissions"), errs.NoPermission},
	} {
		got := reply.Refused(c.err)
		if !errors.Is(got, c.want) || !errors.Is(got, c.err) {
			t.Errorf("Refused(%q) = %v, want %v wrapping the reply", c.err, got, c.want)
		}
		for _, other := range []error{errs.CrossSlot, errs.Refused, errs.NoPermission} {
			if other != c.want && errors.Is(got, other) {
				t.Errorf("Refused(%q) = %v, is %v too", c.err, got, other)
			}
		}
	}
	if reply.CrossSlot(nil) {
		t.Error("CrossSlot(nil) = true")
	}
}

// MultiRefused tells a refusal of MULTI itself (what followed it ran) from
// a discarded transaction and from other refusals; RanOutsideMulti types it
// as both unknown and refused.
func TestS25mMultiRefused(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{serverErr("NOPERM this user has no permissions to run the 'multi' command"), true},
		{serverErr("NOPERM User app has no permissions to run the 'multi' command"), true},
		{serverErr("ERR unknown command 'MULTI', with args beginning with: "), true},
		{serverErr("ERR unknown command `MULTI`, with args beginning with: "), true},
		{serverErr("EXECABORT Transaction discarded because of: NOPERM this user has no permissions to run the 'exec' command"), false},
		{serverErr("EXECABORT Transaction discarded because of: ERR unknown command 'multi'"), false},
		{serverErr("NOPERM this user has no permissions to run the 'fcall' command"), false},
		{errors.New("'multi' in a network error"), false},
		{nil, false},
	} {
		if got := reply.MultiRefused(c.err); got != c.want {
			t.Errorf("MultiRefused(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	err := reply.RanOutsideMulti(serverErr("NOPERM this user has no permissions to run the 'multi' command"))
	if !errors.Is(err, errs.UnknownOutcome) || !errors.Is(err, errs.NoPermission) || !strings.Contains(err.Error(), "MULTI") {
		t.Fatalf("RanOutsideMulti: %v", err)
	}
}
