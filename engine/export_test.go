package engine

// RelaunchPending reports whether a claimed cycle of the resolution waits
// for the cycle running in this process to end.
func (e *Engine) RelaunchPending(id string) bool {
	e.runningMu.Lock()
	defer e.runningMu.Unlock()
	return e.relaunch[id]
}
