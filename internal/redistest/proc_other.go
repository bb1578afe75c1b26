//go:build unix && !linux

package redistest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

// stopped cannot be observed here; signal delivery is trusted.
func stopped(pid int) (bool, error) { return false, errUnobservable }
