//go:build !linux

package testenv

import "os/exec"

// setParentDeathSignal does nothing outside Linux: there Main is the only
// guard against servers outliving a crashed test binary.
func setParentDeathSignal(cmd *exec.Cmd) {}
