package ops

import (
	"fmt"
	"strconv"

	"github.com/rapyer-go/rapyer/internal/prog"
)

// Guards are ops that write nothing: conditions the server checks before the
// first write of the batch, all of them against the data as the batch found
// it, wherever they stand in the batch. One that does not hold fails the
// batch with rapyer.ErrPrecondition and nothing is written. Conditions on the
// model's value are predicates (package is) guarded by Require; Exists and
// VersionIs, below, are about the stored record (is it there, who wrote it
// last), which a value of the model does not hold, so they stay ops.

type versionGuard[S any] struct {
	modelOp[S]
	v int64
}

func (o *versionGuard[S]) String() string { return fmt.Sprintf("VersionIs(%d)", o.v) }

func (o *versionGuard[S]) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.check(t); err != nil {
		return err
	}
	b.GuardVersion(t.Root, strconv.FormatInt(o.v, 10))
	return nil
}

// VersionIs guards that the model's version is v: nobody wrote it since it
// was read at that version. Every batch that writes a model adds one to its
// version; a model that is created (or created again after a delete or an
// expiry) starts from the server's clock in microseconds, so a version read
// before a delete never matches the model created after it. Read a model
// with its version with
// rapyer's Model.GetWithVersion (one round trip, one consistent snapshot):
//
//	a, v, err := accounts.GetWithVersion(ctx, "alice")
//	_, err = accounts.Exec(ctx, "alice", tx.Of(ops.VersionIs[Account](v), ops.Set(Balance, a.Balance-10)))
//
// A batch whose guard fails returns rapyer.ErrPrecondition and changes nothing.
// Versions change with every write of the model; compare them only for
// equality.
func VersionIs[S any](v int64) Op { return &versionGuard[S]{newModelOp[S](), v} }

type existsGuard[S any] struct{ modelOp[S] }

func (o *existsGuard[S]) String() string { return "Exists()" }

func (o *existsGuard[S]) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.check(t); err != nil {
		return err
	}
	b.Require(t.Root)
	return nil
}

// Exists guards that the model exists. Every batch already requires it
// unless it creates the model or ignores missing ones; Exists makes it
// explicit, and keeps a batch that replaces a model from creating it. A
// batch run with tx.MustBeNew (the model must be new) that holds Exists
// can never hold: it fails with rapyer.ErrInvalid before anything is sent.
func Exists[S any]() Op { return &existsGuard[S]{newModelOp[S]()} }
