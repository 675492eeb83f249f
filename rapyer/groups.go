package rapyer

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	ix "github.com/rapyer-go/rapyer/internal/index"
)

// The number of slot groups of a type (docs/queries.md, "Slot groups").
// A model's group follows from its id and Options.Groups, so a Model with
// another count than the one the models were stored with looks for most of
// them in the wrong group, and finds none: a change of Groups (or a Unique
// index added to a type of several groups, which makes it one group) would
// hide the models. The count is recorded in the field @groups of group
// #0's @meta (with HSETNX, where the move state is written), and the first
// call of a Model reads it, once: a Model whose Groups differs is refused
// with ErrInvalid by every call that reads or writes the type, before it
// sends anything else. A store written before the record is refused when
// group #Groups (the first beyond the Model's range) has an @meta: the
// models were stored in more groups. Fewer groups before and more now,
// without a record, cannot be told from a new type's empty groups.

// metaGroups is the field of group #0's @meta that holds the type's number
// of slot groups.
const metaGroups = "@groups"

// groupsChecked, when it fails, makes the check of groupsOK fail before it
// reads (tests of a failed check).
var groupsChecked = func() error { return nil }

// groupsOK refuses the calls of a Model whose Groups is not the count the
// type's models are stored with. Its first call reads the record (one
// HGET; a store without one, one EXISTS more); the answer is kept for the
// Model's life, a refusal too. A failed read is typed as the move check's
// (ErrNotSent, ErrNoPermission, ErrRefused) and kept for no one.
func (m *Model[T]) groupsOK(ctx context.Context) error {
	if err := m.usable(); err != nil {
		return err
	}
	mv := m.mv
	if mv == nil || mv.groupsOK.Load() {
		return nil
	}
	select {
	case mv.gate <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for the check of the slot groups: %w", errs.NotSent, ctx.Err())
	}
	defer func() { <-mv.gate }()
	if mv.groupsOK.Load() {
		return nil
	}
	if mv.refused != nil {
		return mv.refused
	}
	stored, more, err := m.groupsStored(ctx)
	if err != nil {
		return checkErr("checking the slot groups", err)
	}
	n := m.opts.Groups
	switch {
	case stored > 0 && stored != n:
		mv.refused = m.groupsErr(fmt.Sprintf("%d slot groups", stored), stored)
	case stored == 0 && more:
		mv.refused = m.groupsErr(fmt.Sprintf("more than %d slot groups (group #%d has an @meta)", n, n), 0)
	default:
		mv.groupsOK.Store(true)
		return nil
	}
	return mv.refused
}

// groupsStored reads the recorded count (0 for none) and, without one,
// whether group #Groups has an @meta.
func (m *Model[T]) groupsStored(ctx context.Context) (stored int, more bool, err error) {
	if err := groupsChecked(); err != nil {
		return 0, false, err
	}
	s, err := m.rdb.HGet(ctx, ix.Meta(ix.Base(m.opts.Prefix, ix.GroupTag(m.opts.Prefix, 0))), metaGroups).Result()
	switch {
	case err == nil:
		stored, err := strconv.Atoi(s)
		if err != nil || stored < 1 {
			return 0, false, fmt.Errorf("%w: %s of %s holds %q, not a number of slot groups", errs.Corrupt, metaGroups, m.opts.Prefix, s)
		}
		return stored, false, nil
	case !errors.Is(err, redis.Nil):
		return 0, false, err
	case m.opts.Groups >= ix.MaxGroups:
		return 0, false, nil
	}
	n, err := m.rdb.Exists(ctx, ix.Meta(ix.Base(m.opts.Prefix, ix.GroupTag(m.opts.Prefix, m.opts.Groups)))).Result()
	return 0, n > 0, err
}

// groupsErr is the refusal of a Model whose Groups is not the stored
// count (was, or stored when it is known).
func (m *Model[T]) groupsErr(was string, stored int) error {
	keep := "the Options.Groups they were stored with"
	if stored > 0 {
		keep = fmt.Sprintf("Options.Groups: %d", stored)
	}
	return fmt.Errorf("%w: Options.Groups: the models of prefix %q are stored in %s, and this Model has %d: "+
		"it would not find most of them (a change of Groups moves nothing); keep %s. "+
		"A Unique index needs one slot group: to add one to a type stored in several groups, "+
		"export its models and import them under the new declaration (a new prefix, or after deleting them)",
		errs.Invalid, m.opts.Prefix, was, m.opts.Groups, keep)
}

// recordGroups queues the record of the type's number of slot groups.
func (m *Model[T]) recordGroups(ctx context.Context, p redis.Pipeliner) {
	p.HSetNX(ctx, ix.Meta(m.ix.Bases()[0]), metaGroups, m.opts.Groups)
}

// gateOf is Held.gate: nil for a Model without slot groups to check.
func (m *Model[T]) gateOf() func(ctx context.Context) error {
	if m.mv == nil {
		return nil
	}
	return m.groupsOK
}
