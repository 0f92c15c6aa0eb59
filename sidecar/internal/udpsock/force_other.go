//go:build !linux

package udpsock

import "errors"

func setForce(uintptr, int) error { return errors.New("SO_RCVBUFFORCE is Linux-only") }
