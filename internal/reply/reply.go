// Package reply tells what an error from go-redis says about the server:
// whether it is the server's own reply (the command was refused, or ran as
// the reply reports) rather than a network or context error after which the
// outcome is unknown, and whether it is a WRONGTYPE refusal. It is the one
// place that reads go-redis errors for these questions.
package reply

import (
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
)

// FromServer reports whether err is an error reply from the server, so that
// the command is known to have been refused (or to have run exactly as the
// reply says), as opposed to a network or context error, or a closed client.
func FromServer(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, redis.ErrClosed)
}

// Refused types a refusal of the server, an error err that FromServer
// reports: errs.NoPermission for an ACL's NOPERM, errs.Refused otherwise;
// err stays wrapped.
func Refused(err error) error {
	if redis.HasErrorPrefix(err, "NOPERM") {
		return fmt.Errorf("%w: %w", errs.NoPermission, err)
	}
	return fmt.Errorf("%w: %w", errs.Refused, err)
}

// IsWrongType reports whether err is the server's WRONGTYPE refusal: a key
// holds a Redis type other than the command's.
func IsWrongType(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "WRONGTYPE")
}

// WrongType maps a WRONGTYPE refusal to errs.WrongType, naming key when it
// is not empty, and returns any other error as it is.
func WrongType(key string, err error) error {
	switch {
	case !IsWrongType(err):
		return err
	case key == "":
		return fmt.Errorf("%w: %v", errs.WrongType, err)
	}
	return fmt.Errorf("%w: %s: %v", errs.WrongType, key, err)
}
