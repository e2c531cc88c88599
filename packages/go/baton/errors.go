package baton

import (
	"errors"
	"fmt"
	"time"
)

// TerminalError marks a failure that retrying cannot fix: the task ends as
// FAILED_WITH_TERMINAL_ERROR and the server does not retry it. Handlers
// usually create one with Terminal; it may be wrapped further (errors.As
// finds it).
type TerminalError struct {
	Err error
}

func (e *TerminalError) Error() string { return e.Err.Error() }
func (e *TerminalError) Unwrap() error { return e.Err }

// Terminal marks err as terminal. Terminal(nil) is nil.
func Terminal(err error) error {
	if err == nil {
		return nil
	}
	return &TerminalError{Err: err}
}

// Terminalf is Terminal(fmt.Errorf(format, args...)).
func Terminalf(format string, args ...any) error {
	return &TerminalError{Err: fmt.Errorf(format, args...)}
}

// InProgressError answers IN_PROGRESS: the task stays open and the server
// hands it out again after CallbackAfter. The handler's output (returned
// alongside) is stored with it.
type InProgressError struct {
	CallbackAfter time.Duration
}

func (e *InProgressError) Error() string {
	return fmt.Sprintf("task in progress, call back after %s", e.CallbackAfter)
}

// InProgress returns the error a handler gives to answer IN_PROGRESS, e.g.
//
//	return Status{Done: false}, baton.InProgress(30 * time.Second)
func InProgress(callbackAfter time.Duration) error {
	return &InProgressError{CallbackAfter: callbackAfter}
}

// ErrLeaseLost is the cause of a handler's context cancellation when the
// server refused to extend the lease (the task timed out or went to another
// worker): the result can no longer be delivered.
var ErrLeaseLost = errors.New("baton: task lease lost")
