//go:build !linux

package script

import "errors"

// awaitExit reports that this platform cannot wait for a child without
// reaping it; the caller then reaps it at once.
func awaitExit(int) error {
	return errors.ErrUnsupported
}
