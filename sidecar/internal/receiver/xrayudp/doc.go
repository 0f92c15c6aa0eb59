// Package xrayudp receives X-Ray daemon protocol datagrams on UDP (port
// 2000 by default): a header line and one segment document each, as sent
// by Sidelight's middleware and every X-Ray SDK. It checks each datagram
// with package segment and hands accepted documents to a Consumer;
// rejected ones are counted as segments.rejected.<reason>, never logged
// one by one.
//
// Contract: Start binds the socket (with a large receive buffer) and
// starts one reading goroutine; Shutdown closes the socket and returns
// when that goroutine has finished handing off what it read.
package xrayudp
