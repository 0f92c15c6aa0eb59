// Package emf receives CloudWatch Embedded Metric Format documents the way
// the CloudWatch agent does (port 25888 by default): newline-delimited
// JSON over TCP, and over UDP (one or more lines per datagram). Each line
// is checked with the sidecar's EMF parser; valid documents go to a
// Consumer, the rest are counted as emf.rejected.<reason>.
//
// Memory is bounded: a 64 KB read buffer per connection (at most
// MaxConns connections) plus LongLineMemory shared by lines longer than
// that buffer.
//
// Contract: Start binds both sockets and starts an accept loop, a UDP
// loop and one goroutine per TCP connection (at most MaxConns; more are
// refused and counted). Shutdown closes the listeners, gives open TCP
// connections CloseGrace to deliver what they already sent, closes them
// and returns when every goroutine has finished handing off.
package emf
