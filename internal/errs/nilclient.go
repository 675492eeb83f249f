package errs

import "reflect"

// NilClient reports whether a Redis client is nil: the nil interface, or a
// typed nil pointer in it (a *redis.Client that was never made). Every entry
// point that takes a client (rapyer.New, tx.Exec, tx.Optimistic,
// lock.Acquire, rapyertest.DeletePrefix) refuses one with Invalid, instead
// of dereferencing it later.
func NilClient(rdb any) bool {
	if rdb == nil {
		return true
	}
	v := reflect.ValueOf(rdb)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
