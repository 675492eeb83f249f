// Package reply tells what an error from go-redis says about the server:
// whether it is the server's own reply (the command was refused, or ran as
// the reply reports) rather than a network or context error after which the
// outcome is unknown, and whether it is a WRONGTYPE refusal. It is the one
// place that reads go-redis errors for these questions.
package reply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

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
// reports: errs.NoPermission for an ACL's refusal (NOPERM, or the ERR that
// Redis 7.0 gives for a command or key a script's user may not use),
// errs.CrossSlot for a cluster node's refusal of keys in more than one slot
// (CrossSlot) and for a redirection that reached the caller (Redirected),
// with a hint, errs.Refused otherwise; err stays wrapped.
func Refused(err error) error {
	switch {
	case redis.HasErrorPrefix(err, "NOPERM") || strings.Contains(err.Error(), scriptACL),
		// a transaction discarded because the user may not send EXEC
		// (or a queued command): "EXECABORT ... because of: NOPERM ..."
		redis.HasErrorPrefix(err, "EXECABORT") && strings.Contains(err.Error(), "NOPERM"):
		return fmt.Errorf("%w: %w", errs.NoPermission, err)
	case CrossSlot(err):
		return fmt.Errorf("%w: %w", errs.CrossSlot, err)
	case Redirected(err):
		return fmt.Errorf("%w: %w: %s", errs.CrossSlot, err, wrongNode)
	}
	return fmt.Errorf("%w: %w", errs.Refused, err)
}

// CrossSlot reports whether err is a cluster node's refusal of a request
// whose keys lie in more than one slot: CROSSSLOT, for the keys a command
// or a script declares, or the error a script meets at the call that
// touches a key it did not declare, of another slot ("Script attempted to
// access keys that do not hash to the same slot") or of a slot another node
// owns ("... a non local key in a cluster node"). rapyer's scripts name
// undeclared keys only by appending to a declared one, so the latter two
// mean a key without a hash tag. (A batch's interpreter catches errors of
// its calls itself and says whether it had written: see internal/transport.)
func CrossSlot(err error) bool {
	if err == nil {
		return false
	}
	if redis.HasErrorPrefix(err, "CROSSSLOT") {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "Script attempted to access keys that do not hash to the same slot") ||
		strings.Contains(msg, "Script attempted to access a non local key in a cluster node")
}

// Redirected reports whether err is a cluster node's redirection of a key
// to the node that serves its slot (MOVED, ASK). A *redis.ClusterClient
// follows those of its commands; one that reaches rapyer-go came to a client
// of one node (a *redis.Client pointed at a cluster node), which never
// follows it, so sending again cannot help.
func Redirected(err error) bool {
	return FromServer(err) && (redis.HasErrorPrefix(err, "MOVED") || redis.HasErrorPrefix(err, "ASK"))
}

// wrongNode is the hint of a redirection that reached the caller.
const wrongNode = "the server is a Redis Cluster node that does not serve the key's slot: a client of one node (*redis.Client) reaches only that node's slots; use a *redis.ClusterClient (redis.NewClusterClient, or redis.NewUniversalClient with the nodes' addresses)"

// scriptACL starts Redis 7.0's refusal of a command, key or channel that
// the user running a script or function may not use ("ERR The user
// executing the script can't run this command or subcommand", "... can't
// access at least one of the keys ...").
const scriptACL = "The user executing the script can't "

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

// Unsent reports whether err says that a request never left the client:
// the client is closed, the pool gave no connection, the dial failed, or
// the context ended before (or while waiting for) one of these.
func Unsent(err error) bool {
	if errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrPoolExhausted) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// Lost reports whether err is an error of the client, the network or the
// context rather than the server's reply: the request was not sent, or its
// reply was lost (a timeout, a reset or closed connection).
func Lost(err error) bool {
	var ne net.Error
	return Unsent(err) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// NotSent wraps in errs.NotSent an error that says the request never left
// the client (Unsent); any other error, and one that carries a sentinel
// already, is returned as it is.
func NotSent(err error) error {
	if err == nil || errs.Typed(err) || !Unsent(err) {
		return err
	}
	return fmt.Errorf("%w: %w", errs.NotSent, err)
}

// Read types the error of a read that is not the server's reply: a read
// applies nothing, so a request not sent and one whose reply was lost
// (Lost) are both errs.NotSent, safe to send again. The server's replies,
// errors that carry a sentinel already and any other error are returned as
// they are.
func Read(err error) error {
	if err == nil || errs.Typed(err) || FromServer(err) || !Lost(err) {
		return err
	}
	return fmt.Errorf("%w: %w", errs.NotSent, err)
}

// MultiRefused reports whether err is the server's refusal of MULTI itself
// (an ACL user denied it: "NOPERM ... 'multi' command"; a server where it
// is renamed away: "unknown command 'MULTI'"). The commands a transaction
// queued after it were then not queued: each ran on its own as it arrived,
// and go-redis read none of their replies. (A refusal of EXEC or of a
// queued command is EXECABORT: the server discarded the transaction.)
func MultiRefused(err error) bool {
	if !FromServer(err) || redis.HasErrorPrefix(err, "EXECABORT") {
		return false
	}
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "'multi'") || strings.Contains(s, "`multi`")
}

// RanOutsideMulti types a refusal of MULTI (MultiRefused) for a caller
// whose transaction writes: what it queued ran outside a transaction, its
// replies unread, so it was applied once or not at all (errs.UnknownOutcome),
// as well as refused (Refused: errs.NoPermission for an ACL's).
func RanOutsideMulti(err error) error {
	return fmt.Errorf("%w: MULTI was refused, so the call ran outside a transaction and its reply went unread (grant MULTI and EXEC): %w", errs.UnknownOutcome, Refused(err))
}
