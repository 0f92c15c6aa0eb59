//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "udp-floor measures recvmmsg(2) and runs on Linux only")
	os.Exit(2)
}
