package emf

import "context"

// Sink receives finished EMF documents.
//
// WriteDocument gets one complete JSON document without a trailing newline.
// doc is only valid during the call: a sink that keeps it must copy it.
// WriteDocument must not block on the network; a sink that cannot deliver
// now either buffers (bounded, counting what it drops) or returns an error.
//
// Flush waits until everything written so far is delivered or ctx ends, and
// returns ctx's error in that case. Shutdown flushes like Flush, then
// releases the sink's resources; later writes return [ErrClosed]. Both must
// honour ctx's deadline. Sinks are safe for concurrent use.
//
// A sink that cannot carry documents up to the CloudWatch Logs event size
// (256 KiB) may also have a method MaxDocumentSize() int; the Logger then
// splits documents to fit it.
type Sink interface {
	WriteDocument(ctx context.Context, doc []byte) error
	Flush(ctx context.Context) error
	Shutdown(ctx context.Context) error
}
