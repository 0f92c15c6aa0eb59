// Package udpsock opens the sidecar's UDP sockets with a large receive
// buffer and reads datagrams in batches, so bursts of 100k datagrams per
// second are neither dropped by the kernel nor paid for one wake-up at a
// time.
//
// On Linux a BatchReader reads with recvmmsg(2) from its own duplicates
// of the sockets, outside Go's network poller (which would otherwise wake
// a thread for every datagram that arrives), and while the sockets are
// busy it sleeps briefly between drains so each wake-up collects a
// backlog. The pause adapts to the receive buffer's size, so a small
// buffer is never left to overflow. When the kernel grants less buffer
// than asked for (no CAP_NET_ADMIN), Open binds several sockets to the
// address with SO_REUSEPORT and has the kernel spread datagrams over them
// at random, so together they hold what one could not. Elsewhere it reads
// one socket through golang.org/x/net.
//
// Nothing is lost without a count: the kernel's drops for a full buffer
// (Overflows), and at shutdown Drain has the kernel refuse new datagrams
// (Refused) while the reader hands over every datagram already queued on
// every socket; Close throws the queue away but counts it (Discarded).
package udpsock
