// Package emf receives CloudWatch Embedded Metric Format documents the way
// the CloudWatch agent does (port 25888 by default): newline-delimited
// JSON over TCP, and over UDP (one or more lines per datagram). Each line
// is parsed here, once, by the sidecar's strict EMF parser (package emf):
// accepted documents go to the Consumer as an emf.Document (the line, its
// metadata and its points as cwmetric points), which nothing downstream
// parses again; refused lines are counted as emf.rejected.<reason> (and
// reported to a Consumer that is a RejectionObserver).
//
// Memory is bounded: a 64 KB read buffer per connection (at most
// MaxConns connections) plus LongLineMemory shared by lines longer than
// that buffer.
//
// Contract: Start binds both sockets and starts an accept loop, a UDP
// loop and one goroutine per TCP connection (at most MaxConns: at the
// limit the connection idle the longest is closed to make room, and a
// connection idle for IdleTimeout is closed; both are counted). Shutdown
// closes the TCP listener and stops the UDP socket taking datagrams in,
// reads what the UDP socket and the open connections already hold (each
// connection up to its last complete line: all it held when Shutdown
// began, within Shutdown's context, and what arrives within CloseGrace),
// hands it on, and returns when every goroutine has finished handing off. What
// could not be read is counted as emf.dropped.<reason> and logged once.
package emf
