package tx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestNilClientsAreInvalid: Exec and Optimistic refuse a nil client, the
// untyped nil and a typed nil *redis.Client or *redis.ClusterClient alike,
// with ErrInvalid, instead of dereferencing it.
func TestNilClientsAreInvalid(t *testing.T) {
	ctx := context.Background()
	var client *redis.Client
	var cluster *redis.ClusterClient
	b := tx.On(tx.At[Account]("acct:{a}"), ops.Incr(Balance, 1))
	read := func(redis.Pipeliner) func() (tx.Batch, error) {
		return func() (tx.Batch, error) { return b, nil }
	}
	for _, rdb := range []redis.UniversalClient{nil, client, cluster} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%T: panicked: %v", rdb, r)
				}
			}()
			if _, err := tx.Exec(ctx, rdb, b, tx.Options{}); !errors.Is(err, rapyer.ErrInvalid) {
				t.Errorf("Exec on %T: %v, want ErrInvalid", rdb, err)
			}
			if _, err := tx.Optimistic(ctx, rdb, []string{"acct:{a}"}, read, tx.Options{}); !errors.Is(err, rapyer.ErrInvalid) {
				t.Errorf("Optimistic on %T: %v, want ErrInvalid", rdb, err)
			}
		}()
	}
}
