package service

import (
	"errors"
	"fmt"

	"github.com/utask/utask/store"
)

// Kind classifies a service error; the API turns it into an HTTP status.
type Kind int

// Error kinds. The zero Kind is KindInternal, so an error whose kind was
// forgotten is never mistaken for the caller's fault.
const (
	// KindInternal is a failure of the server (database, encryption…). Its
	// details are logged, never shown to the caller.
	KindInternal Kind = iota
	// KindBadRequest is a request that cannot be honoured as written.
	KindBadRequest
	// KindUnauthorized is a request without an acceptable identity.
	KindUnauthorized
	// KindForbidden is a request the caller is not allowed to make.
	KindForbidden
	// KindNotFound is a request naming an object that does not exist.
	KindNotFound
	// KindConflict is a request that clashes with the current state.
	KindConflict
	// KindMaintenance is a write refused because the server is in
	// maintenance mode.
	KindMaintenance
)

// String returns the name of k, for logs.
func (k Kind) String() string {
	switch k {
	case KindBadRequest:
		return "bad_request"
	case KindUnauthorized:
		return "unauthorized"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "not_found"
	case KindConflict:
		return "conflict"
	case KindMaintenance:
		return "maintenance"
	case KindInternal:
		return "internal"
	}

	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is an error of a service operation. Msg is meant for the caller;
// Err, when set, is the cause, appended to Msg in Error.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
}

// Errorf returns an Error of the given kind whose message is formatted from
// format and args.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Error returns Msg, followed by ": " and the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}

	return e.Msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the first Error in err's chain, or
// KindInternal when there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}

	return KindInternal
}

// wrap returns an Error of the given kind with message msg and cause err.
func wrap(kind Kind, msg string, err error) *Error {
	return &Error{Kind: kind, Msg: msg, Err: err}
}

// storeError classifies an error of the store: a missing row is NotFound, a
// uniqueness violation is BadRequest (as in µTask, where it is a 400), and
// anything else is Internal.
func storeError(msg string, err error) *Error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return wrap(KindNotFound, msg, err)
	case errors.Is(err, store.ErrConflict):
		return wrap(KindBadRequest, msg, err)
	}

	return wrap(KindInternal, msg, err)
}
