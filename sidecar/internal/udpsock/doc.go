// Package udpsock opens the sidecar's UDP sockets with a large receive
// buffer and reads datagrams in batches, so bursts of 100k datagrams per
// second are neither dropped by the kernel nor paid for one wake-up at a
// time.
//
// On Linux a BatchReader reads with recvmmsg(2) from its own duplicate of
// the socket, outside Go's network poller (which would otherwise wake a
// thread for every datagram that arrives), and while the socket is busy
// it sleeps briefly between drains so each wake-up collects a backlog.
// The pause adapts to the receive buffer's size, so a small buffer is
// never left to overflow. Elsewhere it reads through golang.org/x/net.
package udpsock
