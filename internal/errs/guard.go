package errs

import "strings"

// GuardError is the error of a batch whose guard did not hold on the
// server: nothing of the batch was written. It wraps Precondition, and
// tells which guard failed and what it saw, so that a caller can tell one
// failed guard from another ("sold out" from "no credits") without reading
// the message.
type GuardError struct {
	// Op is the guard as it prints: AtLeast(balance, 10).
	Op string
	// Index is the guard's place among the ops of the batch as the caller
	// composed it, from 0.
	Index int
	// Field is the stored path of the field the guard read (the name of
	// its redis tag, or of the Go field); "" for a guard on the model's
	// version.
	Field string
	// Seen is the value the server saw, as stored text: the field's value
	// (a number as Redis keeps it: "5", "2.5"), a collection's length, the
	// version, or the member or map key a guard wanted absent. It is ""
	// when Missing.
	Seen string
	// Missing reports that the guard found nothing to read: the field was
	// not stored (a comparison counts it as its zero value), the map key or
	// the element was not there, or the model had no version.
	Missing bool
	// Detail is what the server found, in words ("balance is 5").
	Detail string
}

// Error reads "rapyer: precondition failed: <op>: <detail>".
func (e *GuardError) Error() string {
	var sb strings.Builder
	sb.WriteString(Precondition.Error())
	sb.WriteString(": ")
	sb.WriteString(e.Op)
	sb.WriteString(": ")
	switch {
	case e.Detail != "":
		sb.WriteString(e.Detail)
	case e.Missing:
		sb.WriteString(e.Field + " is missing")
	default:
		sb.WriteString(e.Field + " is " + e.Seen)
	}
	return sb.String()
}

// Unwrap returns Precondition.
func (e *GuardError) Unwrap() error { return Precondition }
