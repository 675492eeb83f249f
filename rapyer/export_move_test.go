package rapyer

import "time"

// SetMoveCrash makes the move of a model fail after step ("read",
// "copied") while crash says so, and the claim of a move last claim, until
// the function it returns is called.
func SetMoveCrash(crash func(id, step string) bool, claim time.Duration) func() {
	oldCrash, oldClaim := moveCrash, moveClaim
	moveCrash = func(id, step string) error {
		if crash(id, step) {
			return errCrash
		}
		return nil
	}
	moveClaim = claim
	return func() { moveCrash, moveClaim = oldCrash, oldClaim }
}

var errCrash = errorString("crashed (a test)")

type errorString string

func (e errorString) Error() string { return string(e) }

// SetMoveCheckFail makes the check of a type's first call (whether models
// of the layout without indexes are left) fail with err, until the
// function it returns is called.
func SetMoveCheckFail(err error) func() {
	old := moveCheckFail
	moveCheckFail = func() error { return err }
	return func() { moveCheckFail = old }
}

// SetGroupsCheckFail makes the check of a Model's slot groups fail with
// err before it reads, until the function it returns is called.
func SetGroupsCheckFail(err error) func() {
	old := groupsChecked
	groupsChecked = func() error { return err }
	return func() { groupsChecked = old }
}
