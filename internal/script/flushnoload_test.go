package script_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

// TestAnFCallOnlyUserRecoversTheReloadedLibrary: a user allowed FCALL but
// neither FUNCTION LOAD nor scripts, whose library an administrator's
// FUNCTION FLUSH took away, fails while it is gone; once an administrator
// loads it again, the user's next call works. The client used to turn to
// EVALSHA for good (the load was refused), which the user may not send:
// every later call failed with NOPERM, the library back or not. By Run,
// RunTx and Queue, on the real server and the cluster.
func TestAnFCallOnlyUserRecoversTheReloadedLibrary(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		app := b.NewUser(t, "~"+b.Prefix+"*", "+fcall", "+multi", "+exec", "+incr", "+cluster|slots", "+command")
		c := greet.Func("count")
		key := b.Prefix + "n{z}"
		calls := map[string]func() error{
			"Run": func() error { return c.Run(ctx, app, script.Command([]string{key})).Err() },
			"RunTx": func() error {
				_, err := c.RunTx(ctx, app, script.Command([]string{key}), func() []any { return script.Command([]string{key}) })
				return err
			},
			"Queue": func() error {
				var cmd *redis.Cmd
				_, err := app.TxPipelined(ctx, func(p redis.Pipeliner) error {
					cmd = c.Queue(ctx, app, p, script.Command([]string{key}))
					return nil
				})
				if err != nil {
					if again, rerr := c.Recover(ctx, app, cmd.Err()); again && rerr == nil {
						_, err = app.TxPipelined(ctx, func(p redis.Pipeliner) error {
							cmd = c.Queue(ctx, app, p, script.Command([]string{key}))
							return nil
						})
					}
				}
				return err
			},
		}
		for _, name := range []string{"Run", "RunTx", "Queue"} {
			call := calls[name]
			if err := greet.Load(ctx, b.Client); err != nil {
				t.Fatal(err)
			}
			if err := call(); err != nil {
				t.Fatalf("%s with the library loaded: %v", name, err)
			}
			if err := testenv.FlushLua(ctx, b.Client); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := call(); err == nil {
					t.Fatalf("%s without the library: no error", name)
				}
			}
			if err := greet.Load(ctx, b.Client); err != nil {
				t.Fatal(err)
			}
			if err := call(); err != nil {
				t.Fatalf("%s after the library was loaded again: %v", name, err)
			}
		}
	})
}
