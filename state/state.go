// Package state names the states of steps, resolutions and tasks.
//
// The names are µTask's: clients, templates and stored data use them as they
// are. Which transitions are allowed is the engine's business; this package
// only holds the vocabulary and the classifications the template linter, the
// engine and the API share.
package state

// Step states.
const (
	Todo          = "TODO"
	Running       = "RUNNING"
	Done          = "DONE"
	ClientError   = "CLIENT_ERROR"
	ServerError   = "SERVER_ERROR"
	FatalError    = "FATAL_ERROR"
	Crashed       = "CRASHED"
	Prune         = "PRUNE"
	ToRetry       = "TO_RETRY"
	RetryNow      = "RETRY_NOW"
	AfterrunError = "AFTERRUN_ERROR"
	Waiting       = "WAITING"
	Expanded      = "EXPANDED"
	// Any is not a state: in a dependency it accepts every final state.
	Any = "ANY"
)

// Resolution states.
const (
	ResTodo              = "TODO"
	ResRunning           = "RUNNING"
	ResDone              = "DONE"
	ResCancelled         = "CANCELLED"
	ResPaused            = "PAUSED"
	ResBlockedToCheck    = "BLOCKED_TOCHECK"
	ResBlockedBadRequest = "BLOCKED_BADREQUEST"
	ResBlockedDeadlock   = "BLOCKED_DEADLOCK"
	ResBlockedMaxRetries = "BLOCKED_MAXRETRIES"
	ResBlockedFatal      = "BLOCKED_FATAL"
	ResWaiting           = "WAITING"
	ResCrashed           = "CRASHED"
	ResRetry             = "RETRY"
	ResError             = "ERROR"
	ResToAutorun         = "TO_AUTORUN"
	ResToAutorunDelayed  = "TO_AUTORUN_DELAYED"
	ResAutorunning       = "AUTORUNNING"
)

// Task states.
const (
	TaskTodo      = "TODO"
	TaskDelayed   = "DELAYED"
	TaskRunning   = "RUNNING"
	TaskWaiting   = "WAITING"
	TaskBlocked   = "BLOCKED"
	TaskDone      = "DONE"
	TaskCancelled = "CANCELLED"
	TaskWontfix   = "WONTFIX"
)

// Reserved lists the builtin step state names, in µTask's order; none of
// them may be declared as a custom state.
func Reserved() []string {
	return []string{Todo, Waiting, Running, Done, ClientError, ServerError, FatalError,
		Crashed, Prune, ToRetry, RetryNow, AfterrunError, Any, Expanded}
}

// IsReserved reports whether s is a builtin step state name (or ANY).
func IsReserved(s string) bool {
	switch s {
	case Todo, Waiting, Running, Done, ClientError, ServerError, FatalError,
		Crashed, Prune, ToRetry, RetryNow, AfterrunError, Any, Expanded:
		return true
	}
	return false
}

// IsRunnable reports whether a step in state s may be picked by the
// scheduler (when its dependencies allow).
func IsRunnable(s string) bool {
	switch s {
	case Todo, ClientError, ServerError, FatalError, Crashed, ToRetry, RetryNow,
		AfterrunError, Waiting, Expanded:
		return true
	}
	return false
}

// IsFinal reports whether a step in state s is settled: neither running nor
// runnable. DONE, PRUNE and every custom state are final.
func IsFinal(s string) bool {
	return s != Running && !IsRunnable(s)
}

// IsRetriable reports whether a step in state s counts when the next retry
// time of its resolution is computed.
func IsRetriable(s string) bool {
	return s == ServerError || s == ToRetry || s == AfterrunError
}

// ConditionTargets lists the builtin states a condition may give a step.
func ConditionTargets() []string {
	return []string{Done, Prune, ToRetry, RetryNow, FatalError, ClientError}
}

// IsTaskFinal reports whether a task in state s will not change by itself.
func IsTaskFinal(s string) bool {
	return s == TaskDone || s == TaskCancelled || s == TaskWontfix
}
