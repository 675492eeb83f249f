package script_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

// TestAKeyRefusedToTheUserKeepsFCALL: a NOPERM about a key the user may
// not touch is the call's own error; it does not turn the client to
// scripts (which the user may not run either), and the next call goes by
// FCALL. Only a refusal of FCALL itself turns the client to scripts.
func TestAKeyRefusedToTheUserKeepsFCALL(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		app := b.NewUser(t, "~"+b.Prefix+"ok*", "+fcall", "+multi", "+exec", "+set", "+get", "+incr", "+cluster|slots", "+command")
		if err := greet.Load(ctx, b.Client); err != nil {
			t.Fatal(err)
		}
		f := greet.Func("greet")
		rt := testenv.CountRoundTrips(app)
		for range 2 {
			rt.Reset()
			err := f.Run(ctx, app, script.Command([]string{b.Prefix + "no{x}"}, "ann")).Err()
			if err == nil || !strings.HasPrefix(err.Error(), "NOPERM") || strings.Contains(err.Error(), "'fcall' command") {
				t.Fatalf("a call on a key the user may not touch: %v, want NOPERM about the key", err)
			}
			if got := rt.Commands(); !slices.Equal(got, []string{"fcall"}) {
				t.Fatalf("a call refused for its key sent %v, want [fcall]", got)
			}
			if script.Missing(err) {
				t.Fatalf("Missing(%v) = true: a call refused for its key would be sent again", err)
			}
			rt.Reset()
			wantCommands(t, app, b.Prefix+"ok{x}", "fcall")
		}

		// Queued in a transaction: Recover does not call it missing, and
		// the next Queue still uses FCALL.
		c := greet.Func("count")
		queue := func(key string) (*redis.Cmd, error) {
			var cmd *redis.Cmd
			_, err := app.TxPipelined(ctx, func(p redis.Pipeliner) error {
				cmd = c.Queue(ctx, app, p, script.Command([]string{key}))
				return nil
			})
			return cmd, err
		}
		cmd, err := queue(b.Prefix + "no{y}")
		if err == nil {
			t.Fatal("a queued call on a key the user may not touch ran")
		}
		if again, rerr := c.Recover(ctx, app, cmd.Err()); again || rerr != nil {
			t.Fatalf("Recover(%v) = %v, %v, want false, nil", cmd.Err(), again, rerr)
		}
		rt.Reset()
		if _, err := queue(b.Prefix + "ok{y}"); err != nil {
			t.Fatal(err)
		}
		if got := rt.Commands(); !slices.Contains(got, "fcall") || slices.Contains(got, "evalsha") {
			t.Fatalf("the next queued call sent %v, want FCALL", got)
		}
	})
}

// TestAUserWhoMayNotLoadUsesAPreloadedLibrary: a user allowed FCALL but
// neither FUNCTION LOAD nor scripts, whose first call is queued in a
// transaction, calls the library an administrator loaded, by FCALL, on the
// first try (Queue's probe load is refused; that says nothing of FCALL).
func TestAUserWhoMayNotLoadUsesAPreloadedLibrary(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		app := b.NewUser(t, "~"+b.Prefix+"*", "+fcall", "+multi", "+exec", "+incr", "+cluster|slots", "+command")
		if err := greet.Load(ctx, b.Client); err != nil {
			t.Fatal(err)
		}
		c := greet.Func("count")
		var cmd *redis.Cmd
		_, err := app.TxPipelined(ctx, func(p redis.Pipeliner) error {
			cmd = c.Queue(ctx, app, p, script.Command([]string{b.Prefix + "n{z}"}))
			return nil
		})
		if err != nil || cmd.Val() != int64(1) {
			t.Fatalf("the first queued call of a user who may not load: %v, %v", cmd.Val(), err)
		}
	})
}
