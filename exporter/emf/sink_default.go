package emf

import "os"

// defaultSink picks the sink for the environment: standard output in Lambda
// and locally, the CloudWatch agent elsewhere.
func defaultSink(c *config) (Sink, error) {
	switch c.env {
	case Lambda, Local:
		return NewWriterSink(os.Stdout), nil
	}
	return NewAgentSink(c.endpoint, WithAgentLogger(c.log))
}
