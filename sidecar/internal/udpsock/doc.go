// Package udpsock opens the sidecar's UDP sockets with a large receive
// buffer and reads datagrams in batches (recvmmsg on Linux), so bursts of
// 100k datagrams per second are not dropped by the kernel.
package udpsock
